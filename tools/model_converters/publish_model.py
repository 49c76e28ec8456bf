"""Publish a trained checkpoint: weights and plain metadata only, the hash in the name.

    python tools/model_converters/publish_model.py IN_FILE OUT_FILE

MMDetection's convention: drops the optimizer, schedulers and message hub, writes
``OUT_FILE`` as ``<stem>-<first 8 hex of its SHA-256>.pth``. The result holds only
tensors and plain Python values, so plain ``torch.load(path, weights_only=True)``
reads it without importing mmengine or mmfilter.
"""
import argparse
import hashlib
import os
import os.path as osp

import torch

from mmfilter.engine import check_checkpoint
from mmfilter.engine.cli import exit_on_error

PLAIN = (str, int, float, bool, type(None))
_DROP = object()  # marks what plain() leaves out


def plain(value):
    """``value`` with everything that is not a plain Python value left out."""
    if isinstance(value, PLAIN):
        return value
    if isinstance(value, dict):
        kept = {k: plain(v) for k, v in value.items() if isinstance(k, PLAIN)}
        return {k: v for k, v in kept.items() if v is not _DROP}
    if isinstance(value, (list, tuple)):
        kept = [plain(v) for v in value]
        return type(value)(v for v in kept if v is not _DROP)
    return _DROP



def publish(in_file: str, out_file: str) -> str:
    check_checkpoint(in_file)
    checkpoint = torch.load(in_file, map_location='cpu', weights_only=True)
    published = dict(state_dict=checkpoint['state_dict'], meta=plain(checkpoint.get('meta', {})))
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    tmp = out_file + '.tmp'
    torch.save(published, tmp)
    with open(tmp, 'rb') as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    final = f'{osp.splitext(out_file)[0]}-{sha[:8]}.pth'
    os.replace(tmp, final)
    return final


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('in_file')
    parser.add_argument('out_file')
    args = parser.parse_args(argv)
    with exit_on_error():
        final = publish(args.in_file, args.out_file)
    print(f'published {args.in_file} as {final}')
    return final


if __name__ == '__main__':
    main()
