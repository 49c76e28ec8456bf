"""Demo data and dataset checks.

``scene``, ``demo`` and ``checks`` need only numpy and OpenCV; import
``mmfilter.datasets.demo_coco`` (MMDetection) or ``mmfilter.datasets.demo_ade``
and ``mmfilter.datasets.seg_transforms`` (MMSegmentation) to register the
OpenMMLab classes, as the demo configs do through ``custom_imports``.
``objects`` (ground-truth object masks of a test split) needs mmcv, and pycocotools
or MMSegmentation.
"""
from .checks import DatasetError, check_coco_annotations, check_segmentation_folders
from .demo import make_demo_ade, make_demo_coco
from .scene import (CLUTTER_SCENES, DEMO_SCENES, OBJECT_CLASSES, SCENES, SEG_CLASSES, SceneSettings,
                    generate_scene)

__all__ = [
    'DatasetError', 'check_coco_annotations', 'check_segmentation_folders', 'make_demo_ade',
    'make_demo_coco', 'OBJECT_CLASSES', 'SEG_CLASSES', 'generate_scene', 'SceneSettings',
    'SCENES', 'DEMO_SCENES', 'CLUTTER_SCENES'
]
