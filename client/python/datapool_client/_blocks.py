"""Packed numeric fields of request messages: embedding rows into an
EmbeddingBlock and column values into a CandidateColumn, merged as raw
little-endian bytes (~20x faster than extending a repeated field value by
value)."""

from ._gen import datapool_pb2 as pb


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _merge_packed(message, field_number, data):
    """Appends `data` (the packed values' bytes) to the repeated numeric
    field `field_number` of `message`."""
    if data:
        key = _varint(field_number << 3 | 2)  # length-delimited
        message.MergeFromString(key + _varint(len(data)) + data)


def embedding_block(filenames, rows, labels):
    """EmbeddingBlock of float32 rows (n, d), C-contiguous."""
    block = pb.EmbeddingBlock(dimension=rows.shape[1], filenames=filenames)
    if labels is not None:
        block.labels.extend(labels)
    # Field 3: values (float).
    _merge_packed(block, 3, rows.astype("<f4", copy=False).tobytes())
    return block


def candidate_column(name, values):
    """CandidateColumn of a 1-D float64 array."""
    column = pb.CandidateColumn(name=name)
    # Field 2: values (double).
    _merge_packed(column, 2, values.astype("<f8", copy=False).tobytes())
    return column
