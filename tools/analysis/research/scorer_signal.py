"""Where a trained filter's scorer learns from, and what its mask does to the map.

    python tools/analysis/research/scorer_signal.py CONFIG CHECKPOINT [--num-images 32]
    python tools/analysis/research/scorer_signal.py CONFIG --dry-run

Runs the training loss (the test split's images and labels, no augmentation)
through the model and backpropagates it. For every block that scores pixels it
reports, per stage: the mean mask ``sigmoid(logit)`` on the selected and on the
unselected pixels, and the share of the loss gradient reaching the logits
(sum of ``|dL/dlogit|``) that comes from the K selected pixels, beside their
share K/N of the map. With the paper's ``mask_mode='scale'`` every pixel's
logit gets gradient through ``x * mask``; a scorer whose gradient comes mostly
from unselected pixels learns which pixels to dim, not which to attend.
``--dry-run``: one image, with the checkpoint's weights where one is given, else
its random initial weights.
"""
from collections import defaultdict

import torch

from mmfilter.engine.cli import model_run_parser, parse_model_run_args


def scorer_signal(model, batches) -> dict:
    """Per stage: mask means and gradient shares, averaged over ``batches``."""
    from mmfilter.analysis import record_selections
    backbone = model.backbone
    blocks = [(i, b) for i, b in backbone.selecting_blocks() if getattr(b, 'scorer', None)]
    if not blocks:
        raise ValueError(f'{type(backbone).__name__} has no block that scores pixels')
    logits = {}

    def keep(stage):
        def hook(module, args, out) -> None:  # returns None: the output stays as it is
            out.retain_grad()
            logits[stage] = out
        return hook

    hooks = [b.scorer.register_forward_hook(keep(i)) for i, b in blocks]
    stats = defaultdict(lambda: defaultdict(list))
    try:
        for data in batches:
            data = model.data_preprocessor(data, True)
            with record_selections(backbone) as records:
                losses = model(**data, mode='loss')
                loss = sum(v if torch.is_tensor(v) else sum(v)
                           for k, v in losses.items() if 'loss' in k)
                model.zero_grad()
                loss.backward()
            for (stage, block), record in zip(blocks, records):
                mask = logits[stage].detach().flatten(1).sigmoid()
                grad = logits[stage].grad.flatten(1).abs()
                selected = torch.zeros_like(mask, dtype=torch.bool).scatter_(
                    1, record['indices'], True)
                stats[stage]['mask_selected'].append(mask[selected].mean().item())
                stats[stage]['mask_unselected'].append(mask[~selected].mean().item())
                stats[stage]['grad_share_selected'].append(
                    (grad[selected].sum() / grad.sum().clamp_min(1e-30)).item())
                stats[stage]['k_share'].append(selected.float().mean().item())
    finally:
        for hook in hooks:
            hook.remove()
    return {stage: {k: sum(v) / len(v) for k, v in s.items()} for stage, s in stats.items()}


def main(argv=None) -> dict:
    parser = model_run_parser(__doc__.split('\n')[0], num_images=32)
    parser.add_argument('--batch-size', type=int, default=8)
    args = parse_model_run_args(parser, argv)
    if args.dry_run:
        args.batch_size = 1
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DATASETS

    from mmfilter.engine.cli import init_model_or_exit
    model = init_model_or_exit(args.config, args.checkpoint)
    model.train()  # the training forward: its selection and its loss
    dataset = DATASETS.build(model.cfg.test_dataloader.dataset)
    count = min(args.num_images, len(dataset))
    batches = [pseudo_collate([dataset[j] for j in range(i, min(i + args.batch_size, count))])
               for i in range(0, count, args.batch_size)]
    torch.manual_seed(0)
    stats = scorer_signal(model, batches)
    print(f'{count} images of the test split, training-mode forward')
    print('| stage | K/N | mask on selected | mask on unselected | '
          'logit gradient from selected pixels |')
    print('|---|---:|---:|---:|---:|')
    for stage, s in stats.items():
        print(f"| {stage} | {s['k_share']:.1%} | {s['mask_selected']:.3f} | "
              f"{s['mask_unselected']:.3f} | {s['grad_share_selected']:.1%} |")
    return stats


if __name__ == '__main__':
    main()
