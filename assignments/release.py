"""A student copy of the suite: every block a student writes replaced by the question it answers.

In the solution, a block a student writes is marked where it sits, inside a function: one or more comment
lines of hint, the first starting ``# TODO:``, right above a line ``# BEGIN SOLUTION``; then the solution; then
a line ``# END SOLUTION`` at the same indentation. The solution runs as it is: the markers are comments.

``python -m assignments release DEST`` (``make release DEST=...``) copies the suite to a new folder with the body
of every such block replaced by ``raise NotImplementedError("<file>: TODO: <the hint>")`` at the block's
indentation. The markers stay, so the student writes between them; every other byte of every copied file is the
solution's. Left out of the copy: the rubrics (what the grader checks, with the fingerprints of the official
test labels), the suite's own tests and CI, run folders, data caches and the virtual environment. An existing
folder is never written into.
"""

import re
import shutil
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BEGIN, END, TODO = "# BEGIN SOLUTION", "# END SOLUTION", "# TODO:"
# What the copy holds, relative to the repository root; folders are copied whole, less what EXCLUDED matches.
INCLUDED = ("assignments", "common", "data/README.md", "Makefile", "README.md", "requirements.txt",
            "requirements-gpu.txt", "requirements-colab.txt", "requirements-colab-gpu.txt", "pyproject.toml",
            ".gitignore")
# The line of every notebook's set-up cell that names the course repository (see common.notebook.SETUP_CELL).
GIT_URL_LINE = 'SUITE_GIT_URL = ""'

EXCLUDED = ("rubric.py", "fingerprints.py", "__pycache__", "*.pyc", ".ipynb_checkpoints")


class MarkerError(ValueError):
    """A solution marker that is not well formed; the message names the file and line."""


def marked_blocks(text, name="<text>"):
    """The marked blocks of a source text: a list of (begin line, end line, indentation, hint), 0-based line
    numbers of the BEGIN and END markers.

    Raises:
        MarkerError: a BEGIN without the TODO lines above it or without its END, an END without a BEGIN, or
            markers whose indentation differs.
    """
    lines = text.splitlines()
    blocks, index = [], 0
    while index < len(lines):
        stripped = lines[index].strip()
        if stripped == END:
            raise MarkerError(f"{name}, line {index + 1}: {END} without a {BEGIN} before it.")
        if stripped != BEGIN:
            index += 1
            continue
        indent = lines[index][: len(lines[index]) - len(lines[index].lstrip())]
        hint, above = [], index - 1
        while above >= 0 and lines[above].strip().startswith("#") and not lines[above].strip().startswith(BEGIN):
            hint.insert(0, lines[above].strip())
            if lines[above].strip().startswith(TODO):
                break
            above -= 1
        if not hint or not hint[0].startswith(TODO):
            raise MarkerError(f"{name}, line {index + 1}: {BEGIN} needs a '{TODO} <hint>' comment right above it.")
        end = next((position for position in range(index + 1, len(lines)) if lines[position].strip() in (BEGIN, END)),
                   None)
        if end is None or lines[end].strip() != END:
            raise MarkerError(f"{name}, line {index + 1}: {BEGIN} without its {END}.")
        if not lines[end].startswith(indent + END):
            raise MarkerError(f"{name}, line {end + 1}: {END} is not indented like its {BEGIN} (line {index + 1}).")
        text_of_hint = " ".join(re.sub(r"^#\s*", "", line.removeprefix(TODO)).strip() for line in hint)
        blocks.append((index, end, indent, text_of_hint.strip()))
        index = end + 1
    return blocks


def strip_solutions(text, name="<text>"):
    """``text`` with the body of every marked block replaced by ``raise NotImplementedError(...)``."""
    lines = text.splitlines(keepends=True)
    for begin, end, indent, hint in reversed(marked_blocks(text, name)):
        message = f"{name}: TODO: {hint}"
        lines[begin + 1:end] = [f"{indent}raise NotImplementedError({message!r})\n"]
    return "".join(lines)


def restore_solutions(release_text, solution_text, name="<text>"):
    """The inverse of ``strip_solutions``: ``release_text`` with the body of every marked block taken from
    ``solution_text`` (the blocks are matched in order)."""
    release_lines, solution_lines = release_text.splitlines(keepends=True), solution_text.splitlines(keepends=True)
    ours, theirs = marked_blocks(release_text, name), marked_blocks(solution_text, name)
    if len(ours) != len(theirs):
        raise MarkerError(f"{name}: {len(ours)} marked blocks in the copy but {len(theirs)} in the solution.")
    for (begin, end, _, _), (solution_begin, solution_end, _, _) in reversed(list(zip(ours, theirs))):
        release_lines[begin + 1:end] = solution_lines[solution_begin + 1:solution_end]
    return "".join(release_lines)


def _excluded(path):
    return any(path.match(pattern) for pattern in EXCLUDED)


def _check_git_url(git_url):
    if not re.fullmatch(r"[^\s\"'\\]+", git_url):
        raise ValueError(f"--git-url {git_url!r} must be one URL without spaces or quotes.")


def with_git_url(notebook_text, git_url, name="<notebook>"):
    """A notebook's JSON text with ``git_url`` as the course repository of its set-up cell.

    Raises:
        ValueError: the notebook has no set-up cell line ``SUITE_GIT_URL = ""``, or the URL holds a quote.
    """
    import json

    _check_git_url(git_url)
    notebook = json.loads(notebook_text)
    cells = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    source = "".join(cells[0]["source"]) if cells else ""
    if GIT_URL_LINE not in source:
        raise ValueError(f"{name}: its first code cell has no line {GIT_URL_LINE}; restore the set-up cell "
                         "(common.notebook.SETUP_CELL).")
    cells[0]["source"] = source.replace(GIT_URL_LINE, f'SUITE_GIT_URL = "{git_url}"', 1).splitlines(keepends=True)
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def release(destination, source=REPO_ROOT, git_url=None):
    """Write the student copy of ``source`` into the new folder ``destination``; returns (destination, the
    number of blocks replaced per file, relative paths). ``git_url``, the repository the students will clone,
    goes into every notebook's set-up cell, so that the notebook installs the course on Colab.

    Raises:
        FileExistsError: ``destination`` exists (it is left as it is).
        MarkerError: a marker in the solution is not well formed.
        ValueError: ``git_url`` is not one URL, or a notebook lost its set-up cell.
    """
    destination, source = Path(destination), Path(source)
    if destination.exists():
        raise FileExistsError(f"{destination} exists; it was left as it is. Choose a new folder for the release.")
    if git_url is not None:
        _check_git_url(git_url)
    files = []
    for entry in INCLUDED:
        path = source / entry
        if path.is_dir():
            files += [child for child in sorted(path.rglob("*")) if child.is_file()
                      and not any(_excluded(Path(part)) for part in child.relative_to(source).parts)]
        elif path.is_file():
            files.append(path)
    replaced = {}
    staging = destination.with_name(f".{destination.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    for path in files:
        relative = path.relative_to(source)
        target = staging / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        blocks = marked_blocks(path.read_text(), str(relative)) if path.suffix == ".py" else []
        if blocks:
            target.write_text(strip_solutions(path.read_text(), str(relative)))
            shutil.copystat(path, target)
            replaced[str(relative)] = len(blocks)
        elif git_url is not None and path.suffix == ".ipynb":
            target.write_text(with_git_url(path.read_text(), git_url, str(relative)))
        else:
            shutil.copy2(path, target)
    staging.rename(destination)
    return destination, replaced
