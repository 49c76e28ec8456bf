# The clutter benchmark for detection (embedded, no download): 384×384 scenes with 6-18
# objects each (over half of them small in COCO's sense), unannotated look-alikes, and a
# fifth class that needs context: a star is a 'flagged star' when a small red-and-white flag
# is anywhere in the image. 400 train / 200 val images (about 2300 val objects), written to
# data/clutter_coco on first use by DemoClutterCocoDataset.
_base_ = ['./demo_detection.py']

dataset_type = 'DemoClutterCocoDataset'
data_root = 'data/clutter_coco/'
image_size = (384, 384)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.75, 1.25), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
clutter_dataset = dict(type=dataset_type, data_root=data_root, image_size=image_size[0])
train_dataloader = dict(dataset=dict(clutter_dataset, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(clutter_dataset, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator
