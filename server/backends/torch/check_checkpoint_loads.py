#!/usr/bin/python3
"""Checks that a TorchScript checkpoint loads in Python and embeds a batch.

Usage: /usr/bin/python3 check_checkpoint_loads.py PATH

Loads PATH with torch.jit.load, runs forward on a 2x3x64x64 float batch and
prints the output shape. Exits non-zero when loading or forward fails, or
when the output is not a 2-D float tensor with 2 rows.
"""
import sys


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    import torch

    try:
        model = torch.jit.load(argv[1], map_location="cpu")
        model.eval()
        with torch.inference_mode():
            out = model(torch.rand(2, 3, 64, 64))
    except Exception as e:  # Any failure is the answer: it does not load.
        print(f"{argv[1]}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    if not (isinstance(out, torch.Tensor) and out.dim() == 2 and
            out.shape[0] == 2 and out.dtype == torch.float32):
        print(f"{argv[1]}: unexpected output {out!r}", file=sys.stderr)
        return 1
    print(f"output shape: {list(out.shape)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
