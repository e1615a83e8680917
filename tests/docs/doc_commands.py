"""Read the shell commands and the output transcripts out of README.md and docs/*.md.

A command is a line of a code block (fenced or indented) that starts with a program a
user runs (`pytest`, `python`, `wamrobust`, `pip`, `bash`, a script or a venv's
`bin/...`) or with a `$ ` prompt; continuation lines (`\\`) are joined, a trailing
`# comment` is dropped, `a && b` is two commands. Output lines that merely start with a
program's name (`wamrobust compare: error: ...`, `pytest: error: ...`) are not commands.
The lines after a `$ command` up to the next prompt or the end of the block are that
command's transcript: what the doc says it prints; a `$ echo $?` after it shows its exit
status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Code blocks in these languages are code, not commands (other tests run them).
CODE_LANGUAGES = {"python", "toml", "json", "yaml", "xml", "ini"}
PROGRAMS = {"pytest", "python", "python3", "wamrobust", "pip", "pip3", "bash", "sh", "uv",
            "export"}
PROGRAM_PREFIXES = ("scripts/", "benchmarks/", "./", ".venv-", ".ci/")
ENV_ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=\S*$")


@dataclass
class Found:
    """One command as the docs spell it, where it appears, and its transcripts."""

    command: str
    places: list[str] = field(default_factory=list)
    transcripts: list[list[str]] = field(default_factory=list)
    exit_shown: list[int] = field(default_factory=list)


def doc_files() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def code_blocks(text: str) -> list[tuple[int, str, list[str]]]:
    """(first line number, language, lines) of every fenced and indented code block."""
    blocks: list[tuple[int, str, list[str]]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^ {0,3}(`{3,}|~{3,})\s*([\w-]*)", lines[i])
        if fence:
            end = i + 1
            while end < len(lines) and not lines[end].strip().startswith(fence.group(1)):
                end += 1
            blocks.append((i + 2, fence.group(2).lower(), lines[i + 1:end]))
            i = end + 1
            continue
        opens = i == 0 or not lines[i - 1].strip()
        if lines[i].startswith("    ") and lines[i].strip() and opens:
            end = i
            while end < len(lines) and (lines[end].startswith("    ") or not lines[end].strip()):
                end += 1
            blocks.append((i + 1, "", [line[4:] for line in lines[i:end]]))
            i = end
            continue
        i += 1
    return blocks


def strip_comment(line: str) -> str:
    """The line without a trailing shell comment (a `#` after a blank, outside quotes)."""
    quote = None
    for at, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (at == 0 or line[at - 1].isspace()):
            return line[:at].rstrip()
    return line.rstrip()


def is_command(line: str) -> bool:
    words = line.split()
    while words and ENV_ASSIGNMENT.match(words[0]):
        words = words[1:]
    if not words:
        return False
    if len(words) > 1 and words[1].endswith(":"):  # `wamrobust serve: error: ...`
        return False
    return words[0] in PROGRAMS or words[0].startswith(PROGRAM_PREFIXES)


def logical_lines(lines: list[str]) -> list[tuple[int, str]]:
    """(offset of the first physical line, text) with `\\` continuations joined."""
    joined: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for offset, raw in enumerate(lines):
        text = raw.rstrip()
        if pending is not None:
            start, head = pending
            text = f"{head} {text.strip()}"
        else:
            start = offset
        if text.endswith("\\"):
            pending = (start, text[:-1].rstrip())
            continue
        pending = None
        joined.append((start, text))
    if pending is not None:
        joined.append(pending)
    return joined


def documented_commands() -> dict[str, Found]:
    """Every command of the docs, by its text (whitespace collapsed)."""
    found: dict[str, Found] = {}
    for path in doc_files():
        name = path.relative_to(REPO).as_posix()
        for first, language, lines in code_blocks(path.read_text()):
            if language in CODE_LANGUAGES:
                continue
            transcript: list[str] | None = None
            last: Found | None = None
            lines_left = iter(logical_lines(lines))
            for offset, text in lines_left:
                stripped = text.strip()
                prompted = stripped.startswith("$ ")
                body = strip_comment(stripped[2:] if prompted else stripped)
                if not (prompted or is_command(body)):
                    if transcript is not None:
                        transcript.append(text)
                    continue
                transcript = None
                if prompted and body == "echo $?" and last is not None:
                    status = next(lines_left, (0, ""))[1].strip()
                    last.exit_shown.append(int(status))
                    continue
                for part in body.split(" && "):
                    command = " ".join(part.split())
                    entry = found.setdefault(command, Found(command))
                    entry.places.append(f"{name}:{first + offset}")
                    last = entry
                    if prompted:
                        transcript = []
                        entry.transcripts.append(transcript)
    return found


def normalise(line: str) -> str:
    """A printed line without what changes from run to run: times and pytest's padding."""
    line = re.sub(r"=+", "=", line.rstrip())
    line = re.sub(r"\d+(\.\d+)? ms\b", "<ms>", line)
    line = re.sub(r"\bin \d+(\.\d+)?s( \(\d+:\d\d:\d\d\))?", "in <t>", line)
    return line


#: How far a count of a learned policy's run may move on another machine: between two
#: CPUs tiny-vla's and tiny-wam's rows moved by at most 1 episode and their totals by 2;
#: MuJoCo's EGL and OSMesa renderers on one CPU moved none (docs/reliability.md,
#: benchmarks/bench_renderer_agreement.py).
EPISODES_ACROSS_MACHINES = 2
COUNT = re.compile(r"(?<![\w.])\d+(?![\w.])")
NUMBER = re.compile(r"\d+(?:\.\d+)?")


def across_machines(line: str) -> str:
    """The line without what follows from the table rows: the latency line's chunk count
    (a solved episode stops early) and the settings the unsolved list names (one with
    none unsolved is left out)."""
    line = re.sub(r"\bover \d+ chunks\b", "over <n> chunks", line)
    return re.sub(r"(?<=unsolved episodes: )[^(]*", "", line)


def same_line(want: str, got: str, episodes: int = 0) -> bool:
    """`got` is the doc's line `want`; with `episodes`, each count in it (an integer) may
    differ by that many, and a rate or interval (a decimal) follows its line's counts.
    A line of rates alone keeps them within the share `episodes` are of a 24-episode
    row, the default table's smallest."""
    if not episodes or want == got:
        return want == got
    want, got = across_machines(want), across_machines(got)
    if " ".join(NUMBER.sub("#", want).split()) != " ".join(NUMBER.sub("#", got).split()):
        return False
    counts = COUNT.findall(want), COUNT.findall(got)
    if len(counts[0]) != len(counts[1]):
        return False
    if counts[0]:
        return all(abs(int(a) - int(b)) <= episodes for a, b in zip(*counts, strict=True))
    return all(abs(float(a) - float(b)) <= 100 * episodes / 24
               for a, b in zip(NUMBER.findall(want), NUMBER.findall(got), strict=True))


def missing_from(transcript: list[str], printed: str, episodes: int = 0) -> list[str]:
    """The transcript's lines (blank and `...` lines skipped) that the printed output
    does not show in that order; [] when the doc shows what was printed. `episodes`:
    how many episodes' outcomes may differ from the doc's (see `same_line`)."""
    want = [normalise(line) for line in transcript if line.strip() and line.strip() != "..."]
    have = iter(normalise(line) for line in printed.splitlines())
    missing = []
    for line in want:
        if not any(same_line(line, got, episodes) for got in have):
            missing.append(line)
            have = iter(normalise(line) for line in printed.splitlines())
    return missing


def block_after(path: Path, heading: str, language: str, index: int = 0) -> str:
    """The `index`-th fenced `language` block of the section starting at `heading`."""
    text = path.read_text()
    section = text[text.index(heading):]
    following = section.find("\n## ", 1)
    section = section if following < 0 else section[:following]
    blocks = re.findall(rf"```{language}\n(.*?)```", section, re.DOTALL)
    return blocks[index]


#: The success columns of the README's policy table and the episodes behind each cell:
#: 24 per setting, 168 for Total (the seven axes pooled).
TABLE_COLUMNS = (("Clean", 24), ("Camera", 24), ("Robot", 24), ("Language", 24),
                 ("Light", 24), ("Background", 24), ("Noise", 24), ("Layout", 24),
                 ("Total", 168))


def cells_apart(doc: list[str], printed: list[str], episodes: int) -> list[str]:
    """The success cells (%) of a printed policy row more than `episodes` episodes away
    from the doc's row, e.g. `Camera 79.2 -> 66.7`; [] when every cell is within."""
    apart = []
    for (column, n), want, got in zip(TABLE_COLUMNS, doc, printed, strict=True):
        if abs(round(float(want) * n / 100) - round(float(got) * n / 100)) > episodes:
            apart.append(f"{column} {want} -> {got}")
    return apart
