"""Device-independence of the backbones: meta tensors, host syncs, dynamic shapes
under torch.compile, mixed precision, and the GPU check's dry run."""
import json
import math
import re

import pytest
import torch
from torch._dynamo.testing import CompileCounter

from conftest import load_tool, run_tool
from mmfilter import DropoutViT, FilterMobileViT, FilterViT, MobileViT

BACKBONES = [FilterViT, DropoutViT, MobileViT, FilterMobileViT]
# Detection-like sizes (the aspect ratios of COCO's resized images, scaled down).
DETECTION_SIZES = [(192, 256), (224, 320), (256, 352), (288, 416), (320, 448)]
# The smallest table with every block kind of FilterViT (filter attention at
# strides 4-16, pooled attention at 32): the graphs of xxs, traced in a third of the time.
TINY_FILTERVIT = dict(stem=dict(channels=8, out_channels=8, expand_ratio=1), stages=[
    dict(channels=c, blocks=1, expand_ratio=1,
         attention=dict(type=kind, embed_dim=16, depth=1, num_heads=2, token_budget=1024,
                        **({'token_ratio': ratio} if ratio else {})))
    for c, kind, ratio in [(8, 'filter', .25), (16, 'filter', .5), (16, 'filter', .5),
                           (24, 'pooled', None)]])


def gpu_check():
    return load_tool('analysis/gpu_check.py')


@pytest.mark.parametrize('training', [True, False], ids=['train', 'eval'])
@pytest.mark.parametrize('cls', BACKBONES)
def test_forward_on_the_meta_device_creates_no_tensor_elsewhere(cls, training):
    """Every tensor the forward makes follows the input's device: on meta
    weights and input, one made on the default (CPU) device fails the op that
    meets it. At a detection size, so that the budgets, the pooling and
    MobileViT's resizing of odd maps all run (meta tensors cost nothing)."""
    assert torch.empty(0).device.type == 'cpu'  # no torch.device context around
    model = cls(arch='xxs', drop_path_rate=0.1).to('meta').train(training)
    with torch.set_grad_enabled(training):
        outs = model(torch.empty(2, 3, 800, 1344, device='meta'))
        if training:
            sum(o.sum() for o in outs).backward()
    for out, stride, channels in zip(outs, model.stage_strides, model.stage_channels):
        assert out.device.type == 'meta'
        assert out.shape == (2, channels, math.ceil(800 / stride), math.ceil(1344 / stride))


@pytest.mark.parametrize('training', [True, False], ids=['train', 'eval'])
@pytest.mark.parametrize('cls', BACKBONES)
def test_forward_never_synchronises_with_host(cls, training):
    """The CPU stand-in of ``torch.cuda.set_sync_debug_mode('error')`` that the
    GPU check uses: tensor methods that read values to the host raise."""
    no_host_sync = gpu_check().no_host_sync
    cpu = torch.device('cpu')
    with no_host_sync(cpu), pytest.raises(RuntimeError, match='host-device sync'):
        torch.ones(1).item()
    model = cls(arch='xxs', drop_path_rate=0.1).train(training)
    x = torch.rand(2, 3, 64, 96)
    with torch.set_grad_enabled(training), no_host_sync(cpu):
        outs = model(x)
        if training:
            sum(o.mean() for o in outs).backward()
    assert len(outs) == 4 and torch.ones(1).item() == 1


@pytest.mark.slow
@pytest.mark.parametrize('cls', [FilterViT, DropoutViT])
def test_compile_with_dynamic_shapes_traces_one_graph_per_mode(cls):
    """K, the pool stride and the uniform grid are Python arithmetic on sizes; with
    ``dynamic=True`` they stay symbolic, so five detection-like sizes make one graph
    in training and one in evaluation (``dynamic=False`` makes one per size, and
    the default one static graph and then a dynamic one). Batch 2: on the CPU,
    torch's choice of convolution kernel for a batch of one also guards on the
    input's size (at most one more graph per threshold crossed, none at
    detection sizes)."""
    torch._dynamo.reset()
    counter = CompileCounter()
    model = cls(arch=TINY_FILTERVIT)
    compiled = torch.compile(model, backend=counter, dynamic=True, fullgraph=True)
    for training in (True, False):
        model.train(training)
        before = counter.frame_count
        for size in DETECTION_SIZES:
            with torch.set_grad_enabled(training):
                outs = compiled(torch.rand(2, 3, *size))
                if training:
                    sum(o.mean() for o in outs).backward()
        assert counter.frame_count - before == 1, f'training={training}'
    x = torch.rand(2, 3, 240, 336)  # a size not seen: the same graph, the same output
    with torch.no_grad():
        for a, b in zip(model(x), compiled(x)):
            assert torch.allclose(a, b, atol=1e-5, rtol=1e-4)
    assert counter.frame_count == 2
    torch._dynamo.reset()


def test_bfloat16_autocast_keeps_most_of_float32s_tokens(capsys):
    """tools/analysis/precision_overlap.py on a random-init FilterViT-xxs (seed 0,
    2x3x256x256 noise): measured 99.3 / 97.9 / 92.6% of float32's tokens kept at
    strides 4 / 8 / 16 (untrained logits lie close together; the scorer itself
    runs in float32, its input features carry bfloat16's rounding)."""
    result = load_tool('analysis/precision_overlap.py').main(
        ['--backbone', 'FilterViT', '--arch', 'xxs', '--seed', '0', '--device', 'cpu'])
    printed = capsys.readouterr().out
    kept = {s['stride']: s['overlap'] for s in result['stages']}
    assert kept[4] >= 0.98 and kept[8] >= 0.95 and kept[16] >= 0.88, kept
    assert all(s['worst'] <= s['overlap'] for s in result['stages'])
    assert [m['change'] < 0.3 for m in result['maps']] == [True] * 4
    assert '| 2 | 16 | 128 |' in printed and 'bf16 autocast on cpu' in printed


def test_a_section_past_its_budget_records_the_rest_as_timed_out(capsys):
    tool = gpu_check()
    report = tool.Report()
    section = tool.Section(report, 'demo', budget_s=0)
    section.run('never run', lambda: pytest.fail('ran past the budget'))
    section = tool.Section(report, 'demo', budget_s=60)
    section.run('fails', lambda: 1 / 0)
    section.run('passes', lambda: dict(value=1))
    assert [(r['check'], r['status']) for r in report.records] == [
        ('never run', 'timed_out'), ('fails', 'error'), ('passes', 'ok')]
    assert report.records[1]['error'] == 'ZeroDivisionError: division by zero'
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)['check'] for line in lines] == ['never run', 'fails', 'passes']


@pytest.mark.slow
@pytest.mark.parametrize('dtype,least', [('fp16', {4: 0.98, 8: 0.97, 16: 0.93}),
                                         ('bf16', {4: 0.93, 8: 0.91, 16: 0.85})])
def test_autocast_keeps_the_tokens_of_a_trained_checkpoint(trained_detector, dtype, least):
    """tools/analysis/precision_overlap.py CONFIG CHECKPOINT on the tiny trained
    RetinaNet-FilterViT-xxs (2 epochs, its 4 validation images at 128x128):
    measured 99.5 / 98.8 / 96.1% of float32's tokens kept at strides 4 / 8 / 16
    under fp16, 95.9 / 94.3 / 89.6% under bf16 (its logits still lie close
    together). The demo checkpoint (FilterViT-xs, 9 epochs, 100 images at 256x256)
    keeps 99.8 / 99.6 / 99.4% under fp16 and 98.3 / 98.1 / 98.1% under bf16
    (docs/performance.md)."""
    config, work, _ = trained_detector
    proc = run_tool('analysis/precision_overlap.py', config, work / 'epoch_2.pth',
                    '--num-images', 4, '--dtype', dtype, '--device', 'cpu')
    assert proc.returncode == 0, proc.stderr[-3000:]
    kept = {int(stride): float(share) / 100 for stride, share in
            re.findall(r'^\| \d \| (\d+) \| \d+ \| ([\d.]+)% \|', proc.stdout, re.M)}
    assert set(kept) == {4, 8, 16}, proc.stdout
    for stride, share in kept.items():
        assert share >= least[stride], (stride, kept)


@pytest.mark.slow
def test_gpu_check_dry_run_runs_every_section(tmp_path, capsys):
    tool = gpu_check()
    out = tmp_path / 'gpu_check.jsonl'
    records = tool.main(['--dry-run', '--arch', 'xxs', '--out', str(out)])
    printed = capsys.readouterr().out
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines == json.loads(json.dumps(records, default=str))
    assert printed.count('{"section"') == len(lines)  # each printed as it finished
    sections = {r['section'] for r in records}
    assert sections == {'environment', *tool.SECTION_BUDGETS}
    for r in records:  # every check of every backbone ran, none failed
        assert r['status'] in ('ok', 'skipped'), r
    names = [cls.__name__ for cls in BACKBONES]
    for section, per_backbone in [('parity', 1), ('sync', 2), ('precision', 2)]:
        checks = [r['check'].split()[0] for r in records if r['section'] == section]
        assert sorted(checks) == sorted(names * per_backbone), section
    latency = {r['check'] for r in records if r['section'] == 'latency'}
    assert {f'{n}-xxs {g}' for n in names for g in ('b1 fp32', 'b2 fp16')} <= latency
    head_dims = {r['head_dim'] for r in records if r['section'] == 'kernels'}
    assert {12, 16, 20, 24, 32} <= head_dims  # xxs's and xs's among them
    table = printed[printed.index('| backbone |'):]
    for name in names:
        assert f'\n| {name} | ' in table and f'\n| {name}-xxs | ' in table
    assert 'not run' not in table.split('| model |')[0]
