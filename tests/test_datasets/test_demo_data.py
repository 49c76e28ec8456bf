"""The embedded demo datasets and the input checks."""
import json
import re
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from mmfilter.datasets import (OBJECT_CLASSES, SEG_CLASSES, DatasetError, check_coco_annotations,
                               check_segmentation_folders, generate_scene, make_demo_ade,
                               make_demo_coco)

SPLITS = dict(train=6, val=3)


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory):
    return make_demo_coco(str(tmp_path_factory.mktemp('demo') / 'coco'), SPLITS, 128)


@pytest.fixture(scope='module')
def ade_root(tmp_path_factory):
    return make_demo_ade(str(tmp_path_factory.mktemp('demo') / 'ade'), SPLITS, 128)


def test_scenes_are_deterministic_and_varied():
    a_img, a_objs, a_lab = generate_scene(7)
    b_img, b_objs, b_lab = generate_scene(7)
    assert np.array_equal(a_img, b_img) and np.array_equal(a_lab, b_lab)
    assert [o.category for o in a_objs] == [o.category for o in b_objs]
    assert not np.array_equal(a_img, generate_scene(8)[0])
    categories = {o.category for s in range(30) for o in generate_scene(s, 96, 96)[1]}
    assert categories == set(OBJECT_CLASSES)


def test_coco_demo_loads_in_pycocotools_with_boxes_inside_images(coco_root):
    from pycocotools.coco import COCO
    for split, count in SPLITS.items():
        coco = COCO(osp.join(coco_root, 'annotations', f'instances_{split}2017.json'))
        assert len(coco.getImgIds()) == count
        assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == list(OBJECT_CLASSES)
        anns = coco.loadAnns(coco.getAnnIds())
        assert anns
        for ann in anns:
            img = coco.loadImgs(ann['image_id'])[0]
            x, y, w, h = ann['bbox']
            assert 0 <= x and 0 <= y and w > 0 and h > 0
            assert x + w <= img['width'] and y + h <= img['height']
            mask = coco.annToMask(ann)  # polygons decode to the visible part
            assert mask.sum() > 0
            ys, xs = np.nonzero(mask)
            assert xs.min() >= x - 1 and xs.max() <= x + w and ys.min() >= y - 1 and ys.max() <= y + h
            image = cv2.imread(osp.join(coco_root, f'{split}2017', img['file_name']))
            assert image.shape == (img['height'], img['width'], 3)


def test_ade_demo_label_maps_match_images_and_use_valid_labels(ade_root):
    for folder in ('training', 'validation'):
        img_dir = osp.join(ade_root, 'images', folder)
        ann_dir = osp.join(ade_root, 'annotations', folder)
        assert len(check_segmentation_folders(img_dir, ann_dir)) == SPLITS['train' if folder == 'training' else 'val']
        seen = set()
        for name in os.listdir(img_dir):
            image = cv2.imread(osp.join(img_dir, name))
            labels = cv2.imread(osp.join(ann_dir, name.replace('.jpg', '.png')), cv2.IMREAD_UNCHANGED)
            assert labels.shape == image.shape[:2]
            seen |= set(np.unique(labels).tolist())
        assert seen <= set(range(len(SEG_CLASSES) + 1))
        assert 0 in seen and {1, 2} <= seen  # ignore rims, sky and ground in every split


def test_generation_is_atomic_and_refuses_foreign_folders(tmp_path):
    foreign = tmp_path / 'mine'
    foreign.mkdir()
    (foreign / 'precious.txt').write_text('keep')
    with pytest.raises(FileExistsError, match='not an mmfilter demo dataset'):
        make_demo_coco(str(foreign), SPLITS, 64)
    assert (foreign / 'precious.txt').read_text() == 'keep'
    root = make_demo_coco(str(tmp_path / 'demo'), dict(train=2, val=1), 64)
    stamp = os.stat(osp.join(root, 'annotations', 'instances_train2017.json')).st_mtime_ns
    make_demo_coco(root, dict(train=2, val=1), 64)  # already there: nothing rewritten
    assert os.stat(osp.join(root, 'annotations', 'instances_train2017.json')).st_mtime_ns == stamp
    with pytest.raises(FileExistsError, match='other settings'):
        make_demo_coco(root, dict(train=3, val=1), 64)
    assert not [p for p in os.listdir(tmp_path) if p.startswith('.demo-')]


def _copy_ann(coco_root, tmp_path, edit):
    with open(osp.join(coco_root, 'annotations', 'instances_val2017.json')) as f:
        data = json.load(f)
    path = tmp_path / 'instances.json'
    path.write_text(edit(data) if callable(edit) else edit)
    return str(path)


@pytest.mark.parametrize('edit, message', [
    ('', 'annotation file is empty'),
    ('{"images": [', 'not valid JSON'),
    ('[]', 'not a COCO dict'),
    (lambda d: json.dumps(dict(d, images=[])), 'lists no images'),
    (lambda d: json.dumps({k: v for k, v in d.items() if k != 'categories'}), "lacks the COCO lists ['categories']"),
    (lambda d: json.dumps(dict(d, annotations=[dict(d['annotations'][0], bbox=[1, 2])])), 'malformed bbox'),
    (lambda d: json.dumps(dict(d, annotations=[dict(d['annotations'][0], image_id=999)])), 'unknown image_id 999'),
])
def test_malformed_coco_annotations_are_named(coco_root, tmp_path, edit, message):
    ann = _copy_ann(coco_root, tmp_path, edit)
    with pytest.raises(DatasetError, match=re.escape(message)) as info:
        check_coco_annotations(ann, osp.join(coco_root, 'val2017'))
    assert ann in str(info.value)


def test_missing_files_and_class_mismatch_are_named(coco_root, tmp_path):
    ann = osp.join(coco_root, 'annotations', 'instances_val2017.json')
    img_dir = osp.join(coco_root, 'val2017')
    assert len(check_coco_annotations(ann, img_dir, OBJECT_CLASSES)) == SPLITS['val']
    with pytest.raises(DatasetError, match='annotation file not found: /nowhere/a.json'):
        check_coco_annotations('/nowhere/a.json', img_dir)
    with pytest.raises(DatasetError, match='image folder not found'):
        check_coco_annotations(ann, '/nowhere/images')
    with pytest.raises(DatasetError, match=r"classes \['person'\] are not among its categories"):
        check_coco_annotations(ann, img_dir, ('circle', 'person'))
    empty = tmp_path / 'images'
    empty.mkdir()
    with pytest.raises(DatasetError, match='images listed in .* are missing from'):
        check_coco_annotations(ann, str(empty))


def test_segmentation_folder_problems_are_named(ade_root, tmp_path):
    img_dir = osp.join(ade_root, 'images', 'validation')
    with pytest.raises(DatasetError, match='annotation folder not found: /nowhere'):
        check_segmentation_folders(img_dir, '/nowhere')
    ann_dir = tmp_path / 'ann'
    ann_dir.mkdir()
    with pytest.raises(DatasetError, match='have no label map in'):
        check_segmentation_folders(img_dir, str(ann_dir))


def test_clutter_scenes_are_deterministic_small_and_context_dependent():
    from mmfilter.datasets import CLUTTER_SCENES
    a_img, a_objs, a_lab = generate_scene(3, 384, 384, CLUTTER_SCENES)
    b_img, _, b_lab = generate_scene(3, 384, 384, CLUTTER_SCENES)
    assert np.array_equal(a_img, b_img) and np.array_equal(a_lab, b_lab)
    scenes = [generate_scene(seed, 384, 384, CLUTTER_SCENES)[1] for seed in range(20)]
    objects = [o for objs in scenes for o in objs]
    assert len(objects) / len(scenes) >= 8  # many objects per image
    assert np.mean([o.mask.sum() < 32 * 32 for o in objects]) > 0.4  # many small in COCO's sense
    flagged = [any(o.category == 'flagged star' for o in objs) for objs in scenes]
    plain = [any(o.category == 'star' for o in objs) for objs in scenes]
    assert any(flagged) and any(plain)
    assert not any(f and p for f, p in zip(flagged, plain))  # the flag relabels every star
    # the demo setting is unchanged by the clutter options: 4 classes, no flagged stars
    assert {o.category for s in range(30) for o in generate_scene(s, 96, 96)[1]} <= set(OBJECT_CLASSES)


def test_clutter_benchmark_files_are_valid(tmp_path):
    from pycocotools.coco import COCO
    from mmfilter.datasets import CLUTTER_SCENES
    root = make_demo_coco(str(tmp_path / 'coco'), dict(train=2, val=3), 160, 'clutter')
    coco = COCO(osp.join(root, 'annotations', 'instances_val2017.json'))
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == list(CLUTTER_SCENES.object_classes)
    assert len(coco.getImgIds()) == 3 and len(coco.getAnnIds()) >= 3 * 4
    for ann in coco.loadAnns(coco.getAnnIds()):
        image = coco.loadImgs(ann['image_id'])[0]
        x, y, w, h = ann['bbox']
        assert 0 <= x and 0 <= y and x + w <= image['width'] and y + h <= image['height']
        assert w > 0 and h > 0 and ann['area'] >= CLUTTER_SCENES.min_visible
    ade = make_demo_ade(str(tmp_path / 'ade'), dict(train=2, val=2), 160, 'clutter')
    for name in sorted(os.listdir(osp.join(ade, 'images', 'validation'))):
        image = cv2.imread(osp.join(ade, 'images', 'validation', name))
        labels = cv2.imread(osp.join(ade, 'annotations', 'validation', name[:-4] + '.png'),
                            cv2.IMREAD_UNCHANGED)
        assert labels.shape == image.shape[:2]
        assert labels.max() <= len(CLUTTER_SCENES.seg_classes)
    with pytest.raises(KeyError, match='unknown scene setting'):
        make_demo_coco(str(tmp_path / 'x'), dict(train=1, val=1), 64, 'nope')


def test_show_scenes_draws_each_scene_its_boxes_and_its_label_map(tmp_path):
    from conftest import load_tool
    from mmfilter.datasets.scene import SCENES, generate_scene, seg_palette
    out = load_tool('analysis/show_scenes.py').main(['--seeds', '1', '2', '--size', '96',
                                                      '--out', str(tmp_path / 'sheet.png')])
    sheet = cv2.imread(out)[..., ::-1]  # RGB, as generated
    assert sheet.shape == (2 * 96, 3 * 96, 3)
    palette = np.array([(0, 0, 0)] + seg_palette(SCENES['clutter']), np.uint8)
    for row, seed in enumerate((1, 2)):
        image, objects, labels = generate_scene(seed, 96, 96, SCENES['clutter'])
        cells = np.split(sheet[row * 96:(row + 1) * 96], 3, axis=1)
        assert np.array_equal(cells[0], image) and np.array_equal(cells[2], palette[labels])
        x, y, w, h = (int(v) for v in objects[0].bbox_xywh)
        outline = np.zeros((96, 96), bool)
        outline[y:y + h, x] = True  # the left edge of the first object's box
        assert (cells[1] != image).any(axis=2)[outline].mean() > 0.5
