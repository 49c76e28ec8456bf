"""The research scripts (tools/analysis/research/) and the GPU check: each imports and
finishes its dry run on the CPU. They are studies, not product: their measures live in
the package (mmfilter.benchmark, mmfilter.visualization.deletion,
mmfilter.datasets.objects) and are tested there."""
import json

import pytest

from conftest import TINY_SPLITS, load_tool, tiny_config, tiny_detection_config

pytestmark = pytest.mark.slow  # tool runs and processes: integration tests

#: Research scripts that need no config: the arguments of their dry run, and a line of its table.
SCRIPTS = {
    'band_sweep': ([], '| FilterViT-xxs, 64x64 |'),
    'malloc_memory': ([], '| malloc | after pass 1 | peak | wall |'),
    'peak_memory': (['--malloc', 'defaults'], '| FilterViT-xxs |'),
}


@pytest.fixture(scope='module')
def tiny_detector(tmp_path_factory) -> str:
    """RetinaNet-FilterViT-xxs on 12 generated demo images of 128x128 (no training)."""
    from mmfilter.datasets import make_demo_coco
    folder = tmp_path_factory.mktemp('research')
    make_demo_coco(str(folder / 'coco'), TINY_SPLITS, 128)
    return tiny_detection_config(folder)


@pytest.fixture(scope='module')
def tiny_clutter_detector(tmp_path_factory) -> str:
    """RetinaNet-FilterViT-xxs on 4 generated clutter scenes of 128x128, score threshold 0."""
    from mmfilter.datasets import make_demo_coco
    folder = tmp_path_factory.mktemp('clutter')
    root = folder / 'clutter'
    make_demo_coco(str(root), dict(train=2, val=4), 128, 'clutter')
    dataset = f"dataset=dict(data_root='{root}/', splits=dict(train=2, val=4), image_size=128)"
    return tiny_config(folder, 'filtervit/retinanet_filtervit_clutter.py', f"""
model = dict(backbone=dict(arch='xxs'), neck=dict(in_channels=[24, 48, 80, 112]),
             test_cfg=dict(score_thr=0.0))
test_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False, {dataset})
test_evaluator = dict(ann_file='{root}/annotations/instances_val2017.json')
""")


@pytest.mark.parametrize('script', sorted(SCRIPTS))
def test_research_script_dry_run(script, capsys):
    args, line = SCRIPTS[script]
    result = load_tool(f'analysis/research/{script}.py').main(['--dry-run'] + args)
    printed = capsys.readouterr().out
    assert result and line in printed, printed


def test_profile_dry_run_writes_its_tables(tmp_path):
    profile = load_tool('analysis/research/profile_backbones.py').main(
        ['--dry-run', '--out-dir', str(tmp_path)])
    assert list(profile['stages']) == list(profile['blocks']) == ['FilterViT-xxs']
    assert '| FilterViT-xxs | all stages |' in (tmp_path / 'profile.md').read_text()


def test_contention_dry_run_names_the_load_it_ran_beside(tmp_path):
    tool = load_tool('analysis/research/contention.py')
    with tool.cpu_load(2) as spinning:
        assert len(spinning) == 2 and all(p.poll() is None for p in spinning)
    assert all(p.poll() is not None for p in spinning)
    report = tool.main(['--dry-run', '--load', '1', '--out-dir', str(tmp_path)])
    # the dry run's plan: FilterViT-xxs at 64x64, batch 1 (and its training pass and FLOPs)
    assert {m: sorted(r) for m, r in report['results'].items()} == {
        'FilterViT-xxs': ['64x64/b1', '64x64/gflops', '64x64/train', 'params']}
    assert json.loads((tmp_path / 'benchmark.json').read_text())['background_load'] == 1
    assert (tmp_path / 'benchmark.md').read_text().startswith('CPU-bound background processes: 1.')


def test_scorer_signal_dry_run(tiny_detector):
    stats = load_tool('analysis/research/scorer_signal.py').main([tiny_detector, '--dry-run'])
    assert sorted(stats) == [0, 1, 2]
    assert all(0 < s['k_share'] < 1 for s in stats.values())


def test_filter_focus_dry_run(tiny_detector, capsys):
    report = load_tool('analysis/research/filter_focus.py').main([tiny_detector, '--dry-run'])
    assert sorted(report['on_object']) == [0, 1, 2] and 0 < report['area_share'] < 1
    assert '1 images; objects cover' in capsys.readouterr().out


def test_explain_faithfulness_dry_run(tiny_detector, tmp_path):
    load_tool('analysis/research/explain_faithfulness.py').main(
        [tiny_detector, '--dry-run', '--out-dir', str(tmp_path)])
    report = json.loads((tmp_path / 'faithfulness.json').read_text())['methods']
    for method in ('mask', 'gradcam', 'rollout', 'lrp', 'region', 'random'):
        assert report[method]['images'] == 1 and 0 <= report[method]['on_objects'] <= 1
        assert report[method]['curve'][0] == pytest.approx(1)
        assert report[method]['curve'][-1] == pytest.approx(0)
    assert (tmp_path / 'deletion.png').stat().st_size > 10_000


def test_context_accuracy_dry_run(tiny_clutter_detector, capsys):
    report = load_tool('analysis/research/context_accuracy.py').main(
        [tiny_clutter_detector, '--dry-run'])
    assert set(report) == {'flagged star', 'star', 'balanced_accuracy'}
    assert '\n1 images; a star is named' in capsys.readouterr().out


def test_context_accuracy_needs_the_benchmarks_star_classes(tiny_detector):
    with pytest.raises(SystemExit, match="no 'flagged star' and 'star' classes"):
        load_tool('analysis/research/context_accuracy.py').main([tiny_detector, '--dry-run'])


def test_context_accuracy_names_each_star_by_its_best_overlapping_detection():
    import torch
    tool = load_tool('analysis/research/context_accuracy.py')
    flagged, star, circle = 4, 3, 0
    gt_boxes = torch.tensor([[0., 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50], [60, 60, 70, 70]])
    gt_labels = torch.tensor([flagged, star, star, circle])
    det_boxes = torch.tensor([[0., 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [21, 21, 31, 31],
                              [60, 60, 70, 70]])
    det_scores = torch.tensor([0.3, 0.6, 0.9, 0.95, 0.99])
    det_labels = torch.tensor([flagged, star, star, circle, star])
    named = tool.name_objects(gt_boxes, gt_labels, det_boxes, det_scores, det_labels,
                              [flagged, star])
    # a circle detection names no star; the third star has no detection; circles are not asked
    assert named == [(flagged, star), (star, star), (star, None)]
    report = tool.summarise(named, [flagged, star], ['flagged star', 'star'])
    assert report['flagged star'] == dict(objects=1, found=1, right=0, accuracy=0.)
    assert report['star'] == dict(objects=2, found=1, right=1, accuracy=1.)
    assert report['balanced_accuracy'] == pytest.approx(0.5)
    assert tool.name_objects(gt_boxes, gt_labels, det_boxes[:0], det_scores[:0], det_labels[:0],
                             [flagged, star]) == [(flagged, None), (star, None), (star, None)]


def test_gpu_check_section_past_its_budget_records_the_rest_as_timed_out(capsys):
    from mmfilter.benchmark import JsonLinesReport
    tool = load_tool('analysis/gpu_check.py')
    report = JsonLinesReport()
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


def test_gpu_check_dry_run_runs_every_section(tmp_path, capsys):
    from mmfilter.benchmark import MMFILTER_BACKBONES
    tool = load_tool('analysis/gpu_check.py')
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
    for section, per_backbone in [('parity', 1), ('sync', 2), ('precision', 2)]:
        checks = [r['check'].split()[0] for r in records if r['section'] == section]
        assert sorted(checks) == sorted(list(MMFILTER_BACKBONES) * per_backbone), section
    latency = {r['check'] for r in records if r['section'] == 'latency'}
    assert {f'{n}-xxs {g}' for n in MMFILTER_BACKBONES for g in ('b1 fp32', 'b2 fp16')} <= latency
    head_dims = {r['head_dim'] for r in records if r['section'] == 'kernels'}
    assert {12, 16, 20, 24, 32} <= head_dims  # xxs's and xs's among them
    table = printed[printed.index('| backbone |'):]
    for name in MMFILTER_BACKBONES:
        assert f'\n| {name} | ' in table and f'\n| {name}-xxs | ' in table
    assert 'not run' not in table.split('| model |')[0]
