"""One Markdown section of a benchmark file, replaced in place between its markers."""


def write_section(md, begin, end, text):
    """Replaces the part of Markdown file `md` between the `begin` and `end` markers (appends it
    when they are absent), leaving the rest of the file as it is."""
    section = f"{begin}\n{text}{end}\n"
    old = md.read_text() if md.exists() else ""
    if begin in old and end in old:
        old = old[: old.index(begin)] + section + old[old.index(end) + len(end) + 1:]
    else:
        old = old + ("\n" if old else "") + section
    md.write_text(old)
