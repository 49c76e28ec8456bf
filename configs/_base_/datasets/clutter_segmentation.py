# The clutter benchmark for segmentation (embedded, no download): the scenes of
# clutter_detection.py in the ADE20K layout (sky, ground, 4 shapes and 'flagged star'; 0 =
# ignore), 384×384, 400 train / 200 val, written to data/clutter_ade on first use.
_base_ = ['./demo_segmentation.py']

dataset_type = 'DemoClutterADE20KDataset'
data_root = 'data/clutter_ade/'
crop_size = (384, 384)
num_classes = 7

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='ValidateSegMap', num_classes=num_classes),
    dict(type='RandomResize', scale=crop_size, ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='ValidateSegMap', num_classes=num_classes),
    dict(type='PackSegInputs'),
]
clutter_dataset = dict(type=dataset_type, data_root=data_root, image_size=crop_size[0])
train_dataloader = dict(dataset=dict(clutter_dataset, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(clutter_dataset, pipeline=test_pipeline))
test_dataloader = val_dataloader
