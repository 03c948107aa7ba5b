"""First-use set-up from a source checkout, with nothing but the standard library.

``python3 -m fortishell`` (the shell) and ``python3 tests/run.py`` (the test
suite) call :func:`ensure_venv`.  What is needed is read from pyproject.toml
(``[project] dependencies`` plus the requested extras; the one list of
dependencies, see :func:`requirements`).  Once ``<checkout>/.venv`` is set up for this
pyproject.toml (its install stamp), the command re-executes there at once.  Otherwise,
unless the running interpreter already has those distributions, it creates the
``.venv``, installs the project there (editable, with the requested extras; again
whenever pyproject.toml changes) and re-executes the same command with the virtual
environment's interpreter.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

# subprocess, tomllib, venv and importlib.metadata are imported where used: a start that is
# already set up needs none of them (they cost every start ~50 ms of CPU, in both interpreters
# of `python3 -m fortishell`)

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
STAMP = VENV / ".fortishell-installed"


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def requirements(extras: str = "") -> list[str]:
    """Distribution names the project needs: pyproject.toml's ``dependencies`` and the
    ``optional-dependencies`` of each extra in ``extras`` (comma-separated).

    Outside a checkout (an installed package) the installed metadata says the same.
    """
    wanted = [e for e in extras.split(",") if e]
    pyproject = ROOT / "pyproject.toml"
    specs: list[str]
    if pyproject.exists():
        import tomllib

        with pyproject.open("rb") as f:
            project = tomllib.load(f)["project"]
        specs = list(project.get("dependencies", []))
        optional = project.get("optional-dependencies", {})
        for extra in wanted:
            specs += optional.get(extra, [])
    else:
        import importlib.metadata  # only outside a checkout (its import costs a start 40 ms)

        try:
            declared = importlib.metadata.requires("fortishell") or []
        except importlib.metadata.PackageNotFoundError:
            declared = []
        specs = [r for r in declared if ";" not in r or any(f'extra == "{e}"' in r for e in wanted)]
    names = []
    for spec in specs:
        m = _NAME.match(spec)
        if m:
            names.append(m.group(1))
    return names


def missing(names: list[str]) -> list[str]:
    """The distributions of ``names`` that are not installed for this interpreter."""
    import importlib.metadata

    out = []
    for name in names:
        try:
            importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            out.append(name)
    return out


def _wanted_stamp(extras: str) -> str:
    return f"{extras}:{(ROOT / 'pyproject.toml').stat().st_mtime_ns}"


def _stamp_covers(extras: str) -> bool:
    if not STAMP.exists():
        return False
    have_extras, _, mtime = STAMP.read_text().strip().partition(":")
    wanted_extras, _, wanted_mtime = _wanted_stamp(extras).partition(":")
    wanted = {e for e in wanted_extras.split(",") if e}
    return mtime == wanted_mtime and wanted <= set(have_extras.split(","))


class SetupError(Exception):
    """The first-use set-up could not finish (one line for the user: what failed, how to retry)."""


def adopt_venv() -> bool:
    """Continue in this process as .venv's interpreter would run, when .venv was made from this
    very interpreter (pyvenv.cfg: its ``home`` is this executable's directory, its ``version``
    this version): the interpreter's own site-packages leave ``sys.path``, .venv's (with its
    .pth files) join it, and ``sys.executable`` / ``sys.prefix`` name .venv, so that what the
    process starts or prints (``sys.executable -m fortishell``) is .venv's.  A second
    interpreter start (exec) cost ``python3 -m fortishell`` ~45 ms of CPU (issue 22).

    What this interpreter's start-up already imported from its own site-packages (a .pth file's
    module) stays imported.  False, and nothing changed, when .venv is not this interpreter's
    (another Python, another build, Windows): the caller execs .venv's interpreter then."""
    if os.name == "nt":
        return False
    try:
        lines = (VENV / "pyvenv.cfg").read_text("utf-8").splitlines()
    except OSError:
        return False
    cfg = {k.strip(): v.strip() for k, _, v in (line.partition("=") for line in lines)}
    version = "%d.%d.%d" % sys.version_info[:3]
    site_packages = VENV / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    home = cfg.get("home", "")
    if cfg.get("version", cfg.get("version_info", "")) != version or not home or not site_packages.is_dir():
        return False
    if Path(home).resolve() != Path(sys.executable).resolve().parent:
        return False
    import site

    own = {os.path.realpath(p) for p in [*site.getsitepackages(), site.getusersitepackages()]}
    sys.path[:] = [p for p in sys.path if os.path.realpath(p) not in own]
    site.addsitedir(str(site_packages))  # appended after the standard library, as in .venv
    sys.executable = str(venv_python())
    sys.prefix = sys.exec_prefix = str(VENV)
    return True


def _retry_hint() -> str:
    return "python3 " + " ".join(["-m", "fortishell"] if not sys.argv[0].endswith("run.py") else ["tests/run.py"])


def install(extras: str = "") -> None:
    """Create .venv if needed and install the project with ``extras`` into it.

    Progress is pip's own output, sent to standard error (standard output may be a
    transcript someone is capturing).  Raises :class:`SetupError` when a step fails;
    the stamp is written only after a complete install, so the next run retries.
    """
    import subprocess
    import venv

    py = venv_python()
    if not py.exists():
        _say("first run: creating .venv (a private Python environment in the checkout) ...")
        try:
            venv.EnvBuilder(with_pip=True).create(VENV)
        except (OSError, subprocess.CalledProcessError) as exc:
            raise SetupError(f"cannot create {VENV}: {_why(exc)} (is the python3 venv module installed, "
                             f"e.g. the python3-venv package?); fix that, then run {_retry_hint()} again") from None
    target = f".[{extras}]" if extras else "."
    _say(f"installing {target} and its dependencies into .venv (needs the package index once) ...")
    try:
        subprocess.run(
            [str(py), "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off", "-e", target],
            cwd=ROOT, check=True, stdout=sys.stderr,
        )
    except subprocess.CalledProcessError:
        raise SetupError(f"installing the dependencies into .venv failed (pip's messages above; is the package "
                         f"index reachable?); run {_retry_hint()} again once it is") from None
    except OSError as exc:
        raise SetupError(f"cannot run pip in .venv: {_why(exc)}; remove {VENV} and run {_retry_hint()} again") from None
    STAMP.write_text(_wanted_stamp(extras))
    _say("set-up done.")


def _say(text: str) -> None:
    print(f"fortishell: {text}", file=sys.stderr, flush=True)


def _why(exc: BaseException) -> str:
    import subprocess

    if isinstance(exc, subprocess.CalledProcessError):
        return f"{exc.cmd[0] if exc.cmd else 'a command'} exited with status {exc.returncode}"
    return getattr(exc, "strerror", None) or str(exc)


def ensure_venv(argv: list[str], extras: str = "", *, require_venv: bool = False, adopt: bool = False) -> None:
    """Return if the project's requirements (with ``extras``) are installed here;
    otherwise set up .venv and exec ``argv`` in it.

    ``argv`` are the interpreter arguments to re-run (``["-m", "fortishell", ...]``).
    With ``require_venv`` (the test suite) the checkout's .venv is always used, so
    that the installed ``fortishell`` command the end-to-end tests run is there.
    With ``adopt`` (the shell) a .venv made from this very interpreter is taken on in
    this process (:func:`adopt_venv`) instead of exec'ing its interpreter.
    """
    in_venv = Path(sys.prefix).resolve() == VENV.resolve()
    if in_venv and _stamp_covers(extras):
        return  # installed here for this pyproject.toml (the stamp is written after the install)
    if not in_venv and _stamp_covers(extras) and venv_python().exists():
        # set up before: the checkout's .venv, without scanning this interpreter's distributions
        # first (that scan costs a start ~30 ms of CPU and ends in the same place where they are missing)
        if adopt and adopt_venv():
            return
        py = venv_python()
        os.execv(str(py), [str(py), *argv])
    absent = missing(requirements(extras))
    if in_venv and not absent and _stamp_covers(extras):
        return
    if not in_venv and not require_venv and not absent:
        return
    if not (ROOT / "pyproject.toml").exists():
        sys.exit("fortishell: missing dependencies: " + ", ".join(absent))
    if not _stamp_covers(extras):
        try:
            install(extras)
        except SetupError as err:
            print(f"fortishell: set-up failed: {err}", file=sys.stderr)
            sys.exit(1)
        except KeyboardInterrupt:
            print(f"\nfortishell: set-up interrupted; run {_retry_hint()} again to finish it", file=sys.stderr)
            sys.exit(130)
    py = venv_python()
    os.execv(str(py), [str(py), *argv])
