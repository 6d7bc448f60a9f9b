"""The IPTC digital source type and prodgen's own notes, written into an image file and read back.

Every image prodgen makes or edits says so in its metadata:

- an XMP packet with ``Iptc4xmpExt:DigitalSourceType`` (``trainedAlgorithmicMedia`` for a generated
  image, ``compositeWithTrainedAlgorithmicMedia`` for an edit of a real photo), ``xmp:CreatorTool``
  ("prodgen <version>") and ``prodgen:Info`` (JSON: run, model family, seed, request, edits);
- in PNG files also the text chunks ``Software`` ("prodgen <version>") and ``prodgen`` (the same JSON).

Where the packet goes: PNG an ``iTXt`` chunk "XML:com.adobe.xmp" after IHDR; JPEG an APP1 segment
after the JFIF/EXIF segments; WebP an ``XMP `` chunk (the file becomes extended WebP, VP8X, when it is
not already); GIF an "XMP DataXMP" application extension. The metadata is spliced into the file's bytes:
the pixels are never decoded or re-encoded, so a JPEG loses nothing. Marking again replaces the
earlier marks. Write the marks before signing (``c2pa_sign``): the C2PA hash covers them.
"""

from __future__ import annotations

import json
import os
import re
import struct
import zlib
from pathlib import Path
from xml.sax.saxutils import quoteattr

from .. import __version__
from ..atomic import write_bytes
from ..errors import UserError

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
GENERATED = IPTC + "trainedAlgorithmicMedia"
EDITED = IPTC + "compositeWithTrainedAlgorithmicMedia"
SOURCE_TYPES = {"generated": GENERATED, "edited": EDITED}
GENERATOR = f"prodgen {__version__}"
NS_PRODGEN = "https://github.com/prodgen/prodgen/ns/1.0/"  # the namespace of prodgen:Info (a name, never fetched)
PNG_XMP_KEY = b"XML:com.adobe.xmp"
PNG_INFO_KEY = b"prodgen"
PNG_SOFTWARE_KEY = b"Software"
JPEG_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
GIF_XMP_APP = b"\x21\xff\x0bXMP DataXMP"
GIF_MAGIC_TRAILER = b"\x01" + bytes(range(255, -1, -1)) + b"\x00"  # XMP spec part 3: lets GIF readers skip the packet
MAX_JPEG_SEGMENT = 65533  # an APP1 segment's payload (its length field counts itself)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def image_format(data: bytes) -> str:
    """"png", "jpeg", "webp" or "gif" from the file's first bytes; UserError for anything else."""
    if data.startswith(PNG_SIGNATURE):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    raise UserError("prodgen marks PNG, JPEG, WebP and GIF files; this file is none of them (write the image as .png, "
                    ".jpg, .webp or .gif).")


def xmp_packet(source_type: str, info: dict) -> bytes:
    """The XMP packet: digital source type, creator tool and prodgen's notes as JSON."""
    if source_type not in SOURCE_TYPES.values():
        raise ValueError(f"source_type must be one of {sorted(SOURCE_TYPES.values())}, not {source_type!r}")
    notes = json.dumps(info, sort_keys=True, ensure_ascii=True, separators=(",", ":"), default=str)
    body = (f'<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="{GENERATOR}">'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            '<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
            f'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:prodgen="{NS_PRODGEN}" '
            f'Iptc4xmpExt:DigitalSourceType="{source_type}" xmp:CreatorTool="{GENERATOR}" '
            f'prodgen:Info={quoteattr(notes)}/></rdf:RDF></x:xmpmeta>')
    return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>' + body + '<?xpacket end="w"?>').encode("utf-8")


def mark_bytes(data: bytes, source_type: str, info: dict) -> bytes:
    """``data`` (a PNG, JPEG, WebP or GIF file) with the marks spliced in, earlier marks replaced."""
    info = {"generator": GENERATOR, **info}
    fmt = image_format(data)
    packet = xmp_packet(source_type, info)
    if fmt == "png":
        return _png_mark(data, packet, info)
    if fmt == "jpeg":
        if len(packet) + len(JPEG_XMP_HEADER) > MAX_JPEG_SEGMENT:  # a huge request: keep the mark, drop the detail
            packet = xmp_packet(source_type, {k: v for k, v in info.items() if k != "request"} | {"request": "(too long)"})
        return _jpeg_mark(data, packet)
    if fmt == "webp":
        return _webp_mark(data, packet)
    return _gif_mark(data, packet)


def mark_file(path: str | os.PathLike, source_type: str, info: dict) -> None:
    """Write the marks into the file at ``path`` (atomically: the old file stays whole until the new one is)."""
    path = Path(path)
    write_bytes(path, mark_bytes(path.read_bytes(), source_type, info))


def read_marks(data: bytes) -> dict:
    """What a file's marks say: ``{"source_type", "generator", "info"}`` (None where absent)."""
    try:
        fmt = image_format(data)
    except UserError:
        return {"source_type": None, "generator": None, "info": None}
    packet, text = None, {}
    if fmt == "png":
        for ctype, body in _png_chunks(data):
            if ctype in (b"iTXt", b"tEXt"):
                key, value = _png_text(ctype, body)
                if key == PNG_XMP_KEY:
                    packet = value
                elif key in (PNG_INFO_KEY, PNG_SOFTWARE_KEY):
                    text[key] = value
    elif fmt == "jpeg":
        packet = next((seg[len(JPEG_XMP_HEADER):] for marker, seg in _jpeg_segments(data)
                       if marker == 0xE1 and seg.startswith(JPEG_XMP_HEADER)), None)
    elif fmt == "webp":
        packet = next((body for ctype, body in _webp_chunks(data) if ctype == b"XMP "), None)
    else:
        start = data.find(GIF_XMP_APP)
        if start >= 0:
            end = data.find(GIF_MAGIC_TRAILER, start)
            packet = data[start + len(GIF_XMP_APP): end] if end > 0 else None
    out = {"source_type": None, "generator": None, "info": None}
    if packet is not None:
        out.update(_parse_packet(packet))
    if PNG_INFO_KEY in text and out["info"] is None:
        out["info"] = _json_or_none(text[PNG_INFO_KEY])
    if PNG_SOFTWARE_KEY in text and out["generator"] is None:
        out["generator"] = text[PNG_SOFTWARE_KEY].decode("utf-8", "replace")
    return out


def _parse_packet(packet: bytes) -> dict:
    """Attribute or element form of the three properties (any XMP writer's layout), read without an XML parser
    (no entity expansion from a file of unknown origin)."""
    text = packet.decode("utf-8", "replace")

    def prop(name: str) -> str | None:
        m = re.search(rf'{name}\s*=\s*"([^"]*)"', text) or re.search(rf"{name}\s*=\s*'([^']*)'", text) \
            or re.search(rf"<{name}>([^<]*)</{name}>", text)
        if m is None:
            return None
        return (m.group(1).replace("&quot;", '"').replace("&apos;", "'").replace("&lt;", "<").replace("&gt;", ">")
                .replace("&#10;", "\n").replace("&#13;", "\r").replace("&#9;", "\t").replace("&amp;", "&"))

    info = prop("prodgen:Info")
    return {"source_type": prop("Iptc4xmpExt:DigitalSourceType"), "generator": prop("xmp:CreatorTool"),
            "info": _json_or_none(info.encode("utf-8")) if info is not None else None}


def _json_or_none(raw: bytes):
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


# -- PNG ---------------------------------------------------------------------------------------------------------
def _png_chunks(data: bytes):
    i = len(PNG_SIGNATURE)
    while i + 8 <= len(data):
        (n,) = struct.unpack(">I", data[i:i + 4])
        yield data[i + 4:i + 8], data[i + 8:i + 8 + n]
        i += 12 + n


def _png_chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body) & 0xFFFFFFFF)


def _png_text(ctype: bytes, body: bytes) -> tuple[bytes, bytes]:
    key, _, rest = body.partition(b"\x00")
    if ctype == b"tEXt":
        return key, rest
    compressed, _method = rest[0:1], rest[1:2]  # iTXt: flag, method, language\0, translated keyword\0, text
    text = rest[2:].split(b"\x00", 2)[-1]
    if compressed == b"\x01":
        try:
            text = zlib.decompress(text)
        except zlib.error:
            text = b""
    return key, text


def _itxt(key: bytes, text: bytes) -> bytes:
    return _png_chunk(b"iTXt", key + b"\x00\x00\x00\x00\x00" + text)  # uncompressed, no language, no translation


def _png_mark(data: bytes, packet: bytes, info: dict) -> bytes:
    ours = {PNG_XMP_KEY, PNG_INFO_KEY, PNG_SOFTWARE_KEY}
    out, i = [PNG_SIGNATURE], len(PNG_SIGNATURE)
    while i + 8 <= len(data):
        (n,) = struct.unpack(">I", data[i:i + 4])
        ctype, raw = data[i + 4:i + 8], data[i:i + 12 + n]
        i += 12 + n
        if ctype in (b"iTXt", b"tEXt", b"zTXt") and raw[8:].split(b"\x00", 1)[0] in ours:
            continue  # an earlier mark: replaced
        out.append(raw)
        if ctype == b"IHDR":
            out += [_itxt(PNG_XMP_KEY, packet), _png_chunk(b"tEXt", PNG_SOFTWARE_KEY + b"\x00" + GENERATOR.encode()),
                    _itxt(PNG_INFO_KEY, json.dumps(info, sort_keys=True, default=str).encode("utf-8"))]
    return b"".join(out)


# -- JPEG --------------------------------------------------------------------------------------------------------
def _jpeg_segments(data: bytes):
    """(marker, payload) of the segments before the image data (SOS); stops there."""
    i = 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if marker == 0xDA or marker == 0xD9:
            return
        (n,) = struct.unpack(">H", data[i + 2:i + 4])
        yield marker, data[i + 4:i + 2 + n]
        i += 2 + n


def _jpeg_mark(data: bytes, packet: bytes) -> bytes:
    i, head, keep_after = 2, [data[:2]], []
    while i + 4 <= len(data) and data[i] == 0xFF and data[i + 1] not in (0xDA, 0xD9):
        marker = data[i + 1]
        (n,) = struct.unpack(">H", data[i + 2:i + 4])
        seg = data[i:i + 2 + n]
        i += 2 + n
        if marker == 0xE1 and seg[4:].startswith(JPEG_XMP_HEADER):
            continue  # an earlier packet: replaced
        (head if marker in (0xE0, 0xE1) and not keep_after else keep_after).append(seg)  # JFIF/EXIF stay first
    payload = JPEG_XMP_HEADER + packet
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return b"".join(head) + app1 + b"".join(keep_after) + data[i:]


# -- WebP --------------------------------------------------------------------------------------------------------
def _webp_chunks(data: bytes):
    i = 12
    while i + 8 <= len(data):
        ctype = data[i:i + 4]
        (n,) = struct.unpack("<I", data[i + 4:i + 8])
        yield ctype, data[i + 8:i + 8 + n]
        i += 8 + n + (n & 1)


def _webp_chunk(ctype: bytes, body: bytes) -> bytes:
    return ctype + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) & 1 else b"")


def _webp_size(chunks: list[tuple[bytes, bytes]]) -> tuple[int, int, bool]:
    """Canvas width, height and alpha of a simple (VP8 / VP8L) WebP."""
    for ctype, body in chunks:
        if ctype == b"VP8 ":
            w, h = struct.unpack("<HH", body[6:10])
            return w & 0x3FFF, h & 0x3FFF, False
        if ctype == b"VP8L":
            (bits,) = struct.unpack("<I", body[1:5])
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool((bits >> 28) & 1)
    raise UserError("this WebP file has no image data prodgen can read; write it again")


def _webp_mark(data: bytes, packet: bytes) -> bytes:
    chunks = [(t, b) for t, b in _webp_chunks(data) if t != b"XMP "]
    if chunks and chunks[0][0] == b"VP8X":
        vp8x = bytearray(chunks[0][1])
        vp8x[0] |= 0x04  # XMP flag
        chunks[0] = (b"VP8X", bytes(vp8x))
    else:
        w, h, alpha = _webp_size(chunks)
        flags = 0x04 | (0x10 if alpha else 0)
        chunks.insert(0, (b"VP8X", bytes([flags, 0, 0, 0]) + (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little")))
    chunks.append((b"XMP ", packet))  # the container spec puts XMP after the image data
    body = b"WEBP" + b"".join(_webp_chunk(t, b) for t, b in chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


# -- GIF ---------------------------------------------------------------------------------------------------------
def _gif_mark(data: bytes, packet: bytes) -> bytes:
    start = data.find(GIF_XMP_APP)
    if start >= 0:  # an earlier packet: cut it out
        end = data.find(GIF_MAGIC_TRAILER, start)
        if end > 0:
            data = data[:start] + data[end + len(GIF_MAGIC_TRAILER):]
    if not data.endswith(b"\x3b"):
        raise UserError("this GIF file does not end with its trailer byte; write it again")
    return data[:-1] + GIF_XMP_APP + packet + GIF_MAGIC_TRAILER + b"\x3b"


__all__ = ["EDITED", "GENERATED", "GENERATOR", "SOURCE_TYPES", "image_format", "mark_bytes", "mark_file", "read_marks",
           "xmp_packet"]
