"""The benchmark tools on tiny inputs: tables, target lines, plot and the skip rule; the
catalogue of backbones; the per-stage and per-block profiles."""
import json
import os
import platform
import subprocess
import sys

import pytest

from conftest import REPO, load_tool

pytestmark = pytest.mark.slow  # tool runs, trainings, processes: integration tests


def _benchmark_tool():
    return load_tool('analysis/benchmark_backbones.py')


def test_catalogue_names_each_arch_of_mmfilters_backbones_and_builds_with_overrides():
    import torch
    from mmfilter.benchmark import BACKBONES, COMPARED, build_backbone, catalogue_name
    assert set(COMPARED) <= set(BACKBONES)
    assert catalogue_name('MobileViT', 'xxs') == 'MobileViT-xxs'
    with pytest.raises(ValueError, match="no backbone 'MobileViT-m': the archs of MobileViT "
                       'are xxs, xs, s'):
        catalogue_name('MobileViT', 'm')
    with pytest.raises(ValueError, match="mmfilter's backbones are FilterViT, DropoutViT"):
        catalogue_name('ResNet', '18')
    with pytest.raises(ValueError, match="unknown backbone 'FilterViT-xl'; the catalogue holds"):
        build_backbone('FilterViT-xl')
    model = build_backbone('FilterViT-xxs', row_bands=False, out_indices=(3, ))
    assert not model.training and len(model(torch.rand(1, 3, 64, 64))) == 1


def test_benchmark_writes_tables_targets_and_plot(tmp_path):
    report = _benchmark_tool().main([
        '--models', 'FilterViT-xs', 'FilterViT-xs-dense', 'ResNet-18', '--sizes', '64x64', '256x320',
        '--batch-sizes', '1', '--repeats', '1', '--max-seconds', '600',  # never skip: a busy
        '--out-dir', str(tmp_path)])  # machine's projection must not drop what this test checks
    results = report['results']
    assert results['FilterViT-xs']['params'] == results['FilterViT-xs-dense']['params']
    for name in results:
        for key in ('64x64/b1', '64x64/train', '256x320/b1', '256x320/gflops'):
            assert results[name][key] > 0, (name, key)
    markdown = (tmp_path / 'benchmark.md').read_text()
    assert '256x320:' in markdown and '| FilterViT-xs-dense | 1.56 M |' in markdown
    assert 'latency / ResNet-18' in markdown and 'peak MiB' not in markdown
    assert (tmp_path / 'latency.png').stat().st_size > 10_000
    assert json.loads((tmp_path / 'benchmark.json').read_text())['sizes'] == ['64x64', '256x320']


def test_forward_rows_can_run_folded_and_compiled_on_a_copy(tmp_path):
    import torch
    tool = _benchmark_tool()
    from mmfilter.benchmark import build_backbone
    model = build_backbone('FilterViT-xxs')
    variant = tool.forward_variant(model, fuse=True, backend='eager')  # dynamo, no codegen
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        for a, b in zip(model(x), variant(x)):
            torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-4)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())  # the original kept
    assert tool.forward_variant(model, fuse=False, backend=None) is model
    report = tool.main(['--models', 'FilterViT-xxs', '--sizes', '64x64', '--batch-sizes', '1',
                        '--repeats', '1', '--fuse-conv-bn', '--compile', 'eager',
                        '--out-dir', str(tmp_path)])
    rows = report['results']['FilterViT-xxs']
    assert rows['64x64/train'] > rows['64x64/b1']  # a training step (unfolded, eager) costs more
    header = (tmp_path / 'benchmark.md').read_text().splitlines()[0]
    assert 'forward rows: BatchNorm folded, torch.compile (eager)' in header


def test_benchmark_skips_measurements_projected_too_slow(tmp_path):
    report = _benchmark_tool().main([
        '--models', 'FilterViT-xxs', '--sizes', '64x64', '96x96', '--batch-sizes', '1',
        '--repeats', '1', '--max-seconds', '1e-6', '--out-dir', str(tmp_path)])
    measured = report['results']['FilterViT-xxs']
    assert '64x64/b1' in measured and '64x64/train' in measured
    assert not any(key.startswith('96x96/') for key in measured)


def test_malloc_modes_apply_on_glibc_unless_the_user_chose():
    """In child processes, as the tools start: each mode names itself, and a user's
    MALLOC_* variable wins over every mode."""
    env = {k: v for k, v in os.environ.items() if not k.startswith('MALLOC_') and k != 'LD_PRELOAD'}
    from mmfilter.engine import MALLOC_MODES, configure_malloc
    code = ('from mmfilter.engine import MALLOC_MODES, configure_malloc\n'
            'for mode in MALLOC_MODES: print(configure_malloc(mode))\n')

    def applied(extra: dict) -> list:
        proc = subprocess.run([sys.executable, '-c', code], env={**env, **extra}, cwd=REPO,
                              capture_output=True, text=True, check=True)
        return proc.stdout.strip().splitlines()

    glibc = platform.libc_ver()[0] == 'glibc'
    labels = [label for label, _ in MALLOC_MODES.values()]
    assert applied({}) == (labels if glibc else ['defaults'] * len(labels))
    assert applied({'MALLOC_ARENA_MAX': '2'}) == ['chosen by the user'] * len(labels)
    with pytest.raises(ValueError, match="unknown malloc mode 'jemalloc'"):
        configure_malloc('jemalloc')


def _time_whole_models(out_dir, models, backbones, size: str, *flags) -> list:
    """The rows of ``benchmark_models.py`` timing each of ``models`` on each of
    ``backbones`` once, without warm-up, at ``size`` (``HxW``)."""
    return load_tool('analysis/benchmark_models.py').main(
        ['--models', *models, '--backbones', *backbones, '--size', size, '--repeats', '1',
         '--warmup', '0', '--out-dir', str(out_dir), *flags])


def test_whole_models_are_timed_end_to_end_and_split(tmp_path):
    rows = _time_whole_models(tmp_path, ['retinanet-light', 'faster-rcnn', 'upernet'],
                              ['FilterViT-xs', 'ResNet-18'], '70x100', '--malloc', 'defaults')
    assert [(r['model'], r['backbone']) for r in rows] == [
        (m, b) for m in ('retinanet-light', 'faster-rcnn', 'upernet')
        for b in ('FilterViT-xs', 'ResNet-18')]
    for r in rows:
        parts = [r[f'{p}_ms'] for p in ('backbone', 'neck', 'head', 'rest')]
        assert r['backbone_ms'] > 0 and r['head_ms'] > 0 and min(parts) >= 0
        assert sum(parts) >= r['total_ms'] - 1e-6  # the rest makes up the total
        assert (r['neck_ms'] > 0) == (r['model'] != 'upernet')  # UPerNet has no neck
    assert rows[0]['padded'] == '96x128'  # mmdet pads to multiples of 32
    markdown = (tmp_path / 'models.md').read_text()
    assert '| retinanet-light | ResNet-18 | 70x100 (96x128) |' in markdown
    assert 'glibc malloc: defaults' in markdown.splitlines()[0]
    assert (tmp_path / 'models.png').stat().st_size > 10_000


@pytest.mark.parametrize('name', ['retinanet-light', 'retinanet-dw'])
def test_whole_models_start_from_their_initialisation_so_few_scores_pass_the_threshold(name):
    """A default-initialised RetinaNet head passes nearly all its scores through score_thr
    and post-processing then filters millions of candidates; an initialised one does not."""
    import torch
    from mmfilter.benchmark.whole_model import WHOLE_MODELS, build_whole_model, example_batch
    model, scope = build_whole_model(WHOLE_MODELS[name], 'FilterViT-xs', REPO)
    inputs, _ = example_batch(model, scope, 128, 128)
    with torch.inference_mode():
        scores = torch.cat([s.flatten() for s in model.bbox_head(model.neck(model.backbone(
            inputs)))[0]]).sigmoid()
    threshold = model.bbox_head.test_cfg.score_thr
    assert (scores > threshold).float().mean() < 0.01  # the prior: 0.01 per score


@pytest.mark.parametrize('flags, mode', [([], 'reuse'), (['--no-mmap'], 'no-mmap')])
def test_whole_models_with_a_malloc_mode_run_in_their_own_process(tmp_path, flags, mode):
    """The malloc mode (by default the tools' 'reuse') lasts for the process it is set in."""
    from mmfilter.engine import MALLOC_MODES
    env = {k: v for k, v in os.environ.items() if not k.startswith('MALLOC_') and k != 'LD_PRELOAD'}
    subprocess.run([sys.executable, os.path.join(REPO, 'tools', 'analysis', 'benchmark_models.py'),
                    '--models', 'retinanet-dw', '--backbones', 'FilterViT-xs', '--size', '64x64',
                    '--repeats', '1', '--warmup', '0', '--out-dir', str(tmp_path)] + flags,
                   env=env, check=True, capture_output=True)
    expected = MALLOC_MODES[mode][0] if platform.libc_ver()[0] == 'glibc' else 'defaults'
    assert f'glibc malloc: {expected}' in (tmp_path / 'models.md').read_text()


def test_threads_label_names_the_openmp_wait_settings(monkeypatch):
    import torch
    from mmfilter.benchmark import threads_label
    monkeypatch.delenv('OMP_WAIT_POLICY', raising=False)
    monkeypatch.delenv('GOMP_SPINCOUNT', raising=False)
    assert threads_label() == f'{torch.get_num_threads()} threads'
    monkeypatch.setenv('OMP_WAIT_POLICY', 'passive')
    assert threads_label().endswith('threads, OMP_WAIT_POLICY=passive')


def test_whole_models_of_the_mobilevit_recipes_with_fused_batch_norm(tmp_path):
    rows = _time_whole_models(tmp_path, ['ssdlite', 'deeplabv3'],
                              ['FilterViT-xs', 'MobileViT-xs', 'ResNet-18'], '64x64',
                              '--fuse-conv-bn', 'both')
    assert [(r['model'], r['backbone']) for r in rows] == [
        (m, b + f) for m in ('ssdlite', 'deeplabv3')
        for b in ('FilterViT-xs', 'MobileViT-xs', 'ResNet-18') for f in ('', ' +fused')]
    assert all(r['backbone_ms'] > 0 and r['head_ms'] > 0 for r in rows)


def test_profile_splits_each_stage_by_operator_kind_and_each_filter_block_by_step():
    import torch
    from mmfilter.benchmark import build_backbone
    from mmfilter.benchmark.profiling import op_kind, profile_selecting_blocks, profile_stages
    assert [op_kind(n) for n in ('aten::mkldnn_convolution', 'aten::topk', 'aten::addmm',
                                 'aten::_scaled_dot_product_flash_attention_for_cpu',
                                 'aten::native_layer_norm', 'aten::copy_', 'aten::silu',
                                 'aten::permute', 'aten::foo')] == [
        'convolution', 'selection', 'linear', 'attention', 'normalisation', 'memory',
        'elementwise', 'views / dispatch', 'other']
    image = torch.rand(1, 3, 64, 96)
    backbones = {name: build_backbone(name) for name in ('FilterViT-xs', 'ResNet-18')}
    results = {name: profile_stages(b, image, repeats=1) for name, b in backbones.items()}
    assert [r['stage'] for r in results['FilterViT-xs']] == [
        'stem', 'stage 0 convs', 'stage 0 attention', 'stage 1 convs', 'stage 1 attention',
        'stage 2 convs', 'stage 2 attention', 'stage 3 convs', 'stage 3 attention']
    for rows in results.values():
        for r in rows:
            assert r['gflops_per_s'] == pytest.approx(r['flops'] / r['seconds'] / 1e9)
            assert r['kinds'].get('convolution', 0) > 0 or r['stage'] == 'stage 3 attention'
    assert results['FilterViT-xs'][2]['kinds']['selection'] > 0  # stage 0 picks its tokens
    assert 'selection' not in results['ResNet-18'][1]['kinds']
    blocks = profile_selecting_blocks(backbones['FilterViT-xs'], image, 'cpu', repeats=1)
    assert [b['stage'] for b in blocks] == [0, 1, 2]
    for b in blocks:
        assert b['map'] == f"{64 // 2**(b['stage'] + 2)}x{96 // 2**(b['stage'] + 2)}"
        assert all(b[step] >= 0 for step in ('score', 'select', 'split', 'attention', 'merge'))
        assert b['block'] > 0 and 0 < b['k'] <= 16 * 24 // 4**b['stage']
    assert blocks[0]['channels'] == 32
