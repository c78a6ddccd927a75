"""Read an exposition back with prometheus_client's own parser, into plain dicts."""

import zlib

from prometheus_client.parser import text_string_to_metric_families

KEY_LABELS = ("job_id",)


def parse(text: str) -> dict[str, dict]:
    """Return ``{family name: {"type": ..., "samples": [(name, labels, value)]}}``."""
    families = {}
    for family in text_string_to_metric_families(text):
        families[family.name] = {
            "type": family.type,
            "samples": [(s.name, s.labels, s.value) for s in family.samples],
        }
    return families


def sample(families: dict, sample_name: str, **labels) -> float | None:
    """The value of the one sample called ``sample_name`` whose labels include ``labels``."""
    found = [
        value
        for family in families.values()
        for name, sample_labels, value in family["samples"]
        if name == sample_name and all(sample_labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) <= 1, f"{len(found)} samples {sample_name} {labels}"
    return found[0] if found else None


def gzip_members(data: bytes) -> list[bytes]:
    """Each gzip member of ``data`` decompressed, read one member at a time as zlib does."""
    members = []
    while data:
        reader = zlib.decompressobj(wbits=31)
        members.append(reader.decompress(data))
        assert reader.eof, "a gzip member is cut short"
        data = reader.unused_data
    return members
