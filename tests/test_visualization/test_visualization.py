"""Salient-mask and token-selection pictures."""
import glob

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from conftest import run_tool, tiny_detection_config
from mmfilter.visualization import InputGeometry, heatmap_overlay, mark_tokens, token_mask
from mmfilter.visualization.selection_maps import topk_agreement


@pytest.mark.parametrize('ori, img, pad', [((75, 101), (190, 256), (192, 256)),
                                           ((511, 511), (256, 256), (256, 256))])
def test_heat_maps_have_the_image_size(ori, img, pad):
    geometry = InputGeometry(ori, img, pad)
    heat = geometry.map_to_image(np.random.rand(pad[0] // 4, pad[1] // 4))
    assert heat.shape == ori
    overlay = heatmap_overlay(np.zeros(ori + (3, ), np.uint8), heat)
    assert overlay.shape == ori + (3, )


def test_token_overlay_marks_exactly_k_positions():
    geometry = InputGeometry((320, 320), (320, 320), (320, 320))
    indices = np.array([0, 3, 9, 18, 27, 36, 45, 54, 60, 63])  # on an 8x8 map
    assert token_mask(indices, (8, 8)).sum() == 10
    points = geometry.token_pixels(indices, (8, 8))
    assert np.allclose(points[0], [20, 20]) and np.allclose(points[-1], [300, 300])
    marked = mark_tokens(np.zeros((320, 320, 3), np.uint8), points)
    blobs, _ = cv2.connectedComponents((marked[..., 0] > 100).astype(np.uint8))
    assert blobs - 1 == 10  # background is component 0


def test_token_pixels_undo_resize_and_padding():
    # original 100x50 resized x2 to 200x100, padded to 224x128; a 7x4 map at stride 32
    geometry = InputGeometry((100, 50), (200, 100), (224, 128))
    points = geometry.token_pixels(np.array([0, 27]), (7, 4))
    assert np.allclose(points, [[8, 8], [56, 104]])


def test_topk_agreement():
    saliency = np.zeros((4, 4))
    saliency.flat[[0, 1, 2, 3]] = 1
    assert topk_agreement(np.array([0, 1, 2, 3]), saliency) == 1
    assert topk_agreement(np.array([0, 1, 8, 9]), saliency) == 0.5


def _visualize_odd_image(trained_detector, tmp_path, *flags) -> str:
    """What ``visualize_filter.py`` prints for a random 97x131 ``odd.png`` with the
    trained detector's weights."""
    cfg, work, _ = trained_detector
    image = tmp_path / 'odd.png'
    cv2.imwrite(str(image), np.random.default_rng(1).integers(0, 255, (97, 131, 3), dtype=np.uint8))
    proc = run_tool('visualize_filter.py', cfg, image, '--checkpoint', work / 'epoch_2.pth', *flags)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
def test_visualize_filter_on_an_odd_sized_image(trained_detector, tmp_path):
    out = _visualize_odd_image(trained_detector, tmp_path, '--out-dir', tmp_path / 'vis',
                               '--gradcam', 1)
    assert 'of stage 1 tokens lie in the top-K Grad-CAM cells (chance' in out
    for kind in ('mask', 'tokens'):
        files = sorted(glob.glob(str(tmp_path / 'vis' / f'odd_stage*_{kind}.png')))
        assert len(files) == 3  # FilterViT's three filter blocks
        assert all(cv2.imread(f).shape == (97, 131, 3) for f in files)
    assert cv2.imread(str(tmp_path / 'vis' / 'odd_gradcam_stage1.png')).shape == (97, 131, 3)
    assert (tmp_path / 'vis' / 'odd_sheet.png').is_file()
    assert not (tmp_path / 'vis' / 'odd_methods.png').exists()  # --method mask: the sheets only


@pytest.mark.slow
def test_visualize_filter_draws_every_method_for_one_prediction(trained_detector, tmp_path):
    out = _visualize_odd_image(trained_detector, tmp_path, '--out-dir', tmp_path, '--method',
                               'all', '--class-id', '2')
    assert 'odd_methods.png (mask, gradcam, rollout, lrp)' in out
    methods = cv2.imread(str(tmp_path / 'odd_methods.png'))
    assert methods.shape[1] == 5 * 360  # the prediction and four maps side by side


def test_explain_shows_dropoutvit_selection_without_a_mask(tmp_path):
    cfg = Config.fromfile(tiny_detection_config(tmp_path))  # its initial weights: no training
    cfg.model.backbone.type = 'DropoutViT'
    init_default_scope('mmdet')
    from mmdet.apis import init_detector

    from mmfilter.visualization.explain import explain
    model = init_detector(cfg, None, device='cpu')
    image = np.random.default_rng(2).integers(0, 255, (90, 70, 3), dtype=np.uint8)
    first, second = explain(model, image), explain(model, image)
    assert [s['stage'] for s in first.selections] == [0, 1, 2]
    for a, b in zip(first.selections, second.selections):
        assert a['mask'] is None
        h, w = a['size']
        assert len(a['indices']) == model.backbone.stages[a['stage']][-1].selector.num_tokens(h, w)
        assert np.array_equal(a['indices'], b['indices'])  # deterministic at evaluation
