"""Analysis tools on a tiny trained detector: the budget/selection sweep, and the research
scripts: the scorer's signal, the filter's focus on objects, the context test."""
import math

import numpy as np
import pytest
import torch

from conftest import load_tool

pytestmark = pytest.mark.slow  # tool runs, trainings, processes: integration tests


def test_token_budget_sweep_overrides_k_and_selection(trained_detector, tmp_path):
    cfg, work, _ = trained_detector
    rows = load_tool('analysis/token_budget_sweep.py').main([
        cfg, str(work / 'epoch_2.pth'), '--budgets', '3', 'all', '1/4', 'off', '--selections',
        'topk', 'uniform', '--repeats', '1', '--out-dir', str(tmp_path)])
    assert [(r['selection'], r['budget']) for r in rows] == [
        ('topk', 3), ('topk', 'all'), ('topk', '1/4'), ('topk', 'off'), ('uniform', 3),
        ('uniform', 'all'), ('uniform', '1/4')]
    for r in rows:
        expected = {3: [3, 3, 3], 'all': r['n'], '1/4': [-(-n // 4) for n in r['n']],
                    'off': [0, 0, 0]}
        assert r['k'] == expected[r['budget']]
        assert 0 <= r['coco/bbox_mAP'] <= 1 and r['latency_ms'] > 0
    assert (tmp_path / 'sweep.png').stat().st_size > 5000
    assert '| topk | 3 |' in (tmp_path / 'sweep.md').read_text()


def test_token_budget_sweep_scales_the_trained_k_on_the_val_split(trained_detector, tmp_path):
    cfg, work, _ = trained_detector
    rows = load_tool('analysis/token_budget_sweep.py').main([
        cfg, str(work / 'epoch_2.pth'), '--budgets', 'x1/4', 'x1', 'x4', '--selections', 'topk',
        '--split', 'val', '--repeats', '1', '--out-dir', str(tmp_path)])
    assert [r['budget'] for r in rows] == ['x1/4', 'x1', 'x4']
    ratios = (0.25, 0.5, 0.5)  # the xxs arch's, its budget of 1024 out of reach at this size
    for row, factor in zip(rows, (0.25, 1, 4)):
        assert row['k'] == [math.ceil(min(1, r * factor) * n) for r, n in zip(ratios, row['n'])]
        assert 0 <= row['coco/bbox_mAP'] <= 1


def test_scorer_signal_reports_mask_means_and_gradient_shares(trained_detector):
    cfg, work, _ = trained_detector
    stats = load_tool('analysis/research/scorer_signal.py').main(
        [cfg, str(work / 'epoch_2.pth'), '--num-images', '4'])
    assert sorted(stats) == [0, 1, 2]
    for s in stats.values():
        assert 0 < s['k_share'] < 1
        assert 0 < s['mask_selected'] < 1 and 0 < s['mask_unselected'] < 1
        # the default 'gate' mask: only the attended pixels' logits get gradient
        assert s['grad_share_selected'] == pytest.approx(1.0)


def test_scorer_signal_of_the_papers_mask_reaches_unselected_pixels(trained_detector, tmp_path):
    cfg, work, _ = trained_detector
    scale = tmp_path / 'scale.py'
    scale.write_text(f"_base_ = ['{cfg}']\nmodel = dict(backbone=dict(mask_mode='scale'))\n")
    stats = load_tool('analysis/research/scorer_signal.py').main(
        [str(scale), str(work / 'epoch_2.pth'), '--num-images', '4'])
    for s in stats.values():  # x * mask: every pixel's logit gets gradient
        assert 0 < s['grad_share_selected'] < 1


def test_filter_focus_compares_selected_tokens_on_objects_with_their_area(trained_detector, capsys):
    cfg, work, _ = trained_detector
    report = load_tool('analysis/research/filter_focus.py').main([cfg, str(work / 'epoch_2.pth'),
                                                                  '--num-images', '2'])
    assert 0 < report['area_share'] < 1
    assert sorted(report['on_object']) == [0, 1, 2]
    assert all(0 <= share <= 1 for share in report['on_object'].values())
    assert '2 images; objects cover' in capsys.readouterr().out


def test_on_object_fraction_counts_token_centres_on_objects():
    objects = np.zeros((4, 6), bool)
    objects[:2, :3] = True
    points = np.array([[0.5, 0.5], [2.9, 1.9], [3, 0], [9., 7.]])  # x, y; the last clipped
    fraction = load_tool('analysis/research/objects.py').on_object_fraction(points, objects)
    assert fraction == 0.5


def test_context_accuracy_names_each_star_by_its_best_overlapping_detection():
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


def test_context_accuracy_needs_the_benchmarks_star_classes(trained_detector):
    cfg, work, _ = trained_detector
    with pytest.raises(SystemExit, match="no 'flagged star' and 'star' classes"):
        load_tool('analysis/research/context_accuracy.py').main([cfg, str(work / 'epoch_2.pth')])
