"""Concatenating PDF files into one, streamed page by page: memory stays flat whatever the page count.

pypdf (requirements.txt) reads each input; its PdfWriter would keep every page of the output in memory until
it writes, so the output is written here directly: each page and the objects it reaches (fonts, images,
content streams; shared ones once per input) are renumbered and written as soon as they are reached, and only
the objects' byte offsets and the page numbers are kept until the cross-reference table at the end.
"""
from pathlib import Path

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject, NullObject, StreamObject

CATALOG, PAGES = 1, 2  # object numbers of the output's catalog and page tree (written last)


class _Output:
    def __init__(self, stream):
        self.stream = stream
        self.offsets: dict[int, int] = {}
        self.next_number = PAGES + 1

    def number(self) -> int:
        self.next_number += 1
        return self.next_number - 1

    def write(self, number: int, obj):
        self.offsets[number] = self.stream.tell()
        self.stream.write(f"{number} 0 obj\n".encode())
        obj.write_to_stream(self.stream)
        self.stream.write(b"\nendobj\n")


def _copy(obj, numbers: dict, waiting: list, out: _Output):
    """`obj` with its references renumbered for the output (objects not yet numbered are queued)."""
    if isinstance(obj, IndirectObject):
        if obj.idnum not in numbers:
            numbers[obj.idnum] = out.number()
            waiting.append(obj)
        return IndirectObject(numbers[obj.idnum], 0, None)
    if isinstance(obj, StreamObject):
        copy = obj.__class__()
        copy.update({key: _copy(value, numbers, waiting, out) for key, value in obj.items()})
        copy._data = obj._data
        return copy
    if isinstance(obj, DictionaryObject):
        return DictionaryObject({key: _copy(value, numbers, waiting, out) for key, value in obj.items()})
    if isinstance(obj, ArrayObject):
        return ArrayObject(_copy(value, numbers, waiting, out) for value in obj)
    return obj


def merge_pdfs(paths, target: Path) -> int:
    """Write the pages of `paths`, in order, as one PDF at `target`; returns the page count."""
    kids = []
    with open(target, "wb") as stream:
        stream.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        out = _Output(stream)
        for path in paths:
            reader = PdfReader(str(path))
            numbers: dict[int, int] = {}  # this input's object numbers → the output's
            for page in reader.pages:
                reference = page.indirect_reference
                numbers[reference.idnum] = number = out.number()
                kids.append(number)
                content = {key: value for key, value in page.items() if key != "/Parent"}
                waiting: list = []
                copied = _copy(DictionaryObject(content), numbers, waiting, out)
                copied[NameObject("/Parent")] = IndirectObject(PAGES, 0, None)
                out.write(number, copied)
                while waiting:
                    reference = waiting.pop()
                    value = reference.get_object()
                    out.write(numbers[reference.idnum],
                              NullObject() if value is None else _copy(value, numbers, waiting, out))
            del reader, numbers
        out.offsets[PAGES] = stream.tell()
        stream.write(f"{PAGES} 0 obj\n<< /Type /Pages /Count {len(kids)} /Kids [".encode())
        for start in range(0, len(kids), 1000):
            stream.write(" ".join(f"{n} 0 R" for n in kids[start:start + 1000]).encode() + b" ")
        stream.write(b"] >>\nendobj\n")
        out.offsets[CATALOG] = stream.tell()
        stream.write(f"{CATALOG} 0 obj\n<< /Type /Catalog /Pages {PAGES} 0 R >>\nendobj\n".encode())
        xref = stream.tell()
        size = out.next_number
        stream.write(f"xref\n0 {size}\n0000000000 65535 f \n".encode())
        for number in range(1, size):
            offset = out.offsets.get(number)
            stream.write(b"0000000000 65535 f \n" if offset is None else f"{offset:010d} 00000 n \n".encode())
        stream.write(f"trailer\n<< /Size {size} /Root {CATALOG} 0 R >>\nstartxref\n{xref}\n".encode() + b"%%EOF\n")
    return len(kids)

