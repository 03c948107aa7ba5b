"""The exercise catalogue: ``exercises.toml`` next to the exercise scripts (data only).

An exercise is a script ``NAME.cli``, its expected transcript ``NAME.expected``,
the configuration it starts from, the device clock and the replay options, all
in the samples directory (``sample-configs/`` in a checkout, shipped inside the
package as ``fortishell.samples``).  Adding one is a data-only change: the two
files and one ``[exercise.NAME]`` table (see the comment at the top of
``exercises.toml`` and ``sample-configs/README.md``).

Nothing here runs a device; :func:`scratch_copy` makes the fresh copy of the
starting configuration that every run of an exercise begins with (the shell
saves every change to its configuration file, so the shipped one is never used
directly).

An exercise with steps outside the device (a CSR signed by the lab CA, a
certificate revoked) lists its ``steps``: parts replayed on the same device
(``{ script = "NAME-1" }``, each a ``.cli`` file) and commands a student runs
in another terminal between them (``{ outside = "lab-ca revoke 07:46:97" }``:
``fortishell`` arguments, run with the exercise's state directory and clock;
``{tftp}`` stands for the lab TFTP directory).  Its expected transcript
``NAME.expected`` is the whole session, every part in one; each part ends at
the root prompt (a replay starts the next part there).
"""

from __future__ import annotations

import datetime as _dt
import shutil
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..clock import parse_clock_option
from ..errors import ConfigFileError

CATALOGUE_FILE = "exercises.toml"
_KEYS = {"title", "config", "clock", "teaches", "keep-going", "steps"}
TFTP_MARK = "{tftp}"


class CatalogueError(ConfigFileError):
    """The catalogue is unreadable or names an exercise that does not exist."""


@dataclass(frozen=True)
class Part:
    """Replay ``<stem>.cli`` on the exercise's device (``keep_going``: past failed commands)."""

    stem: str
    keep_going: bool = False


@dataclass(frozen=True)
class Outside:
    """A ``fortishell`` command a student runs outside the device between two parts."""

    command: str  # as written in the catalogue: "lab-ca revoke 07:46:97"

    def words(self, state_dir: Path) -> list[str]:
        """The command's words, ``{tftp}`` replaced by the lab TFTP directory of ``state_dir``."""
        import shlex

        return [w.replace(TFTP_MARK, str(state_dir / "tftp")) for w in shlex.split(self.command)]


Step = Part | Outside


@dataclass(frozen=True)
class Exercise:
    name: str
    title: str
    config: str  # file name in the samples directory
    clock: str  # as written in the catalogue
    teaches: str
    keep_going: bool
    directory: Path
    steps: tuple[Step, ...] = ()  # () = one part, the script NAME.cli

    @property
    def parts(self) -> tuple[Step, ...]:
        """The steps in order (a one-script exercise: its script)."""
        return self.steps or (Part(self.name, self.keep_going),)

    @property
    def scripts(self) -> list[Path]:
        return [self.directory / f"{p.stem}.cli" for p in self.parts if isinstance(p, Part)]

    @property
    def multi_part(self) -> bool:
        return any(isinstance(p, Outside) for p in self.parts) or len(self.scripts) > 1

    @property
    def script(self) -> Path:
        """The script of a one-part exercise."""
        if self.multi_part:
            raise CatalogueError(f"{self.name} has several parts: {', '.join(p.name for p in self.scripts)}")
        return self.scripts[0]

    @property
    def expected(self) -> Path:
        return self.directory / f"{self.name}.expected"

    @property
    def config_path(self) -> Path:
        return self.directory / self.config

    @property
    def when(self) -> _dt.datetime:
        return parse_clock_option(self.clock)

    def long_form(self, config: str) -> list[str]:
        """The equivalent ``fortishell`` arguments (global options + ``run``) for ``config``
        (a one-part exercise)."""
        keep = ["--keep-going"] if self.keep_going else []
        return ["--config", config, "--clock", self.clock, "run", *keep, "--expect", str(self.expected),
                str(self.script)]


def samples_dir() -> Path:
    """The samples directory: the installed ``fortishell.samples`` package, else the checkout's."""
    try:
        files = resources.files("fortishell.samples")
        path = Path(str(files))
        if (path / CATALOGUE_FILE).is_file():
            return path
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parents[2] / "sample-configs"


@dataclass(frozen=True)
class Catalogue:
    exercises: tuple[Exercise, ...]

    @property
    def names(self) -> list[str]:
        return [e.name for e in self.exercises]

    def get(self, name: str) -> Exercise:
        for ex in self.exercises:
            if ex.name == name:
                return ex
        raise CatalogueError(f"no exercise '{name}' (exercises: {', '.join(self.names)})")


def load(directory: Path | None = None) -> Catalogue:
    """Read and check ``exercises.toml`` (every file it names must exist, every clock parse)."""
    directory = directory if directory is not None else samples_dir()
    path = directory / CATALOGUE_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogueError(f"cannot read the exercise catalogue {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{path}: {exc}") from None
    table = data.get("exercise")
    if not isinstance(table, dict) or not table:
        raise CatalogueError(f"{path}: no [exercise.NAME] tables")
    exercises = [_exercise(path, directory, name, spec) for name, spec in table.items()]
    return Catalogue(tuple(exercises))


def _exercise(path: Path, directory: Path, name: str, spec: object) -> Exercise:
    where = f"{path}: [exercise.{name}]"
    if not isinstance(spec, dict):
        raise CatalogueError(f"{where} is not a table")
    unknown = set(spec) - _KEYS
    if unknown:
        raise CatalogueError(f"{where}: unknown key {', '.join(sorted(unknown))}")
    for key in ("title", "config", "clock", "teaches"):
        if not isinstance(spec.get(key), str) or not spec[key]:
            raise CatalogueError(f"{where}: '{key}' (text) is missing")
    keep_going = spec.get("keep-going", False)
    if not isinstance(keep_going, bool):
        raise CatalogueError(f"{where}: 'keep-going' is true or false")
    steps = _steps(where, spec.get("steps", []))
    ex = Exercise(name, spec["title"], spec["config"], spec["clock"], spec["teaches"], keep_going, directory, steps)
    for file in (ex.config_path, *ex.scripts):  # the expected transcript may be recorded later
        if not file.is_file():
            raise CatalogueError(f"{where}: {file.name} is missing")
    try:
        ex.when
    except ValueError:
        raise CatalogueError(f"{where}: clock '{ex.clock}' is not YYYY-MM-DD[ HH:MM[:SS]]") from None
    return ex


def _steps(where: str, table: object) -> tuple[Step, ...]:
    if not isinstance(table, list) or not all(isinstance(t, dict) for t in table):
        raise CatalogueError(f"{where}: 'steps' is a list of {{ script = ... }} / {{ outside = ... }} tables")
    steps: list[Step] = []
    for t in table:
        if set(t) <= {"script", "keep-going"} and isinstance(t.get("script"), str) and t["script"]:
            keep = t.get("keep-going", False)
            if not isinstance(keep, bool):
                raise CatalogueError(f"{where}: 'keep-going' is true or false")
            steps.append(Part(t["script"], keep))
        elif set(t) == {"outside"} and isinstance(t["outside"], str) and t["outside"].strip():
            steps.append(Outside(t["outside"]))
        else:
            raise CatalogueError(f"{where}: a step is {{ script = \"NAME\" }} or {{ outside = \"fortishell arguments\" }}")
    return tuple(steps)


def scratch_copy(ex: Exercise, parent: Path, *, prefix: str = "") -> Path:
    """A new directory under ``parent`` holding a fresh copy of the starting configuration
    as ``fortishell.conf`` (the directory doubles as the device's state directory)."""
    import tempfile

    parent.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    work = Path(tempfile.mkdtemp(prefix=f"{prefix}{ex.name}-{stamp}-", dir=parent))
    shutil.copyfile(ex.config_path, work / "fortishell.conf")
    (work / "fortishell.conf").chmod(0o600)
    return work
