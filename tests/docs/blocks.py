"""The code blocks of a Markdown file and the doc-test marker each carries.

A marker is an HTML comment on its own line before a block (blank lines
may stand between):

    <!-- doc-test: KIND key=value key="a value" -->     run as KIND
    <!-- doc-test: skip WHY -->                         not runnable, and why

Blocks are fenced (``` or ~~~, at any indentation: the opening fence's
indentation is removed from the content) or indented by four spaces after
a blank line that follows a paragraph or heading (not inside a list).
`python3 blocks.py FILE...` lists them."""
import re
import shlex
import sys

MARKER = re.compile(r"^\s*<!--\s*doc-test:\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([^`]*)$")
LIST_ITEM = re.compile(r"^\s*([-*+]|\d+[.)])\s")


class Block:
    def __init__(self, path, line, info, text, marker):
        self.path, self.line, self.info, self.text = path, line, info, text
        self.kind, self.opts, self.why = None, {}, None
        if marker is not None:
            self.kind = marker.split()[0] if marker.split() else ""
            if self.kind == "skip":
                self.why = marker[len("skip"):].strip()
            else:
                for w in shlex.split(marker)[1:]:
                    k, _, v = w.partition("=")
                    self.opts[k] = v

    @property
    def where(self):
        return "%s:%d" % (self.path, self.line)


def blocks(path, text=None):
    if text is None:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    lines = text.split("\n")
    out = []
    marker = None
    prev_para = None  # the last non-blank line before the current blank run
    i = 0
    while i < len(lines):
        ln = lines[i]
        m = MARKER.match(ln)
        if m:
            marker = m.group(1)
            prev_para = ln
            i += 1
            continue
        f = FENCE.match(ln)
        if f:
            indent, fence, info = len(f.group(1)), f.group(2), f.group(3).strip()
            body = []
            j = i + 1
            while j < len(lines):
                c = lines[j]
                if c.strip().startswith(fence[0] * len(fence)) and c.strip().strip(fence[0]) == "":
                    break
                body.append(c[indent:] if c[:indent].strip() == "" else c.lstrip())
                j += 1
            out.append(Block(path, i + 1, info, "\n".join(body) + "\n", marker))
            marker = None
            prev_para = lines[j] if j < len(lines) else ""
            i = j + 1
            continue
        if (ln.startswith("    ") and ln.strip() and i > 0 and lines[i - 1].strip() == ""
                and prev_para is not None and not prev_para.startswith((" ", "\t"))
                and not LIST_ITEM.match(prev_para) and not prev_para.startswith("|")):
            body = []
            j = i
            while j < len(lines) and (lines[j].startswith("    ") or lines[j].strip() == ""):
                body.append(lines[j][4:])
                j += 1
            while body and body[-1].strip() == "":
                body.pop()
            out.append(Block(path, i + 1, "", "\n".join(body) + "\n", marker))
            marker = None
            prev_para = body[-1] if body else ""
            prev_para = "    " + prev_para  # an indented line: no block right after
            i = j
            continue
        if ln.strip():
            if marker is not None and not MARKER.match(ln):
                marker = None  # a marker binds only the next block
            prev_para = ln
        i += 1
    return out


if __name__ == "__main__":
    for p in sys.argv[1:]:
        for b in blocks(p):
            print("%s %s %s %s" % (b.where, b.info or "-", b.kind, b.why or b.opts))
