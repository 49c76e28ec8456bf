# Faster R-CNN (FPN 128 channels) with FilterViT-xs, trained from scratch on the embedded detection
# demo (256x256, 4 classes), the demo schedule (9 epochs x 50 iterations, batch 8, seed 0):
#   python tools/train.py configs/filtervit/faster-rcnn_filtervit_demo.py
_base_ = [
    '../_base_/models/faster-rcnn_filtervit.py',
    '../_base_/datasets/demo_detection.py',
    '../_base_/schedules/demo_detection.py',  # with mmdet's default_runtime
]
custom_imports = dict(imports=['mmfilter', 'mmfilter.datasets.demo_coco'], allow_failed_imports=False)
model = dict(
    neck=dict(out_channels=128),
    rpn_head=dict(in_channels=128, feat_channels=128),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=128),
        bbox_head=dict(in_channels=128, fc_out_channels=256, num_classes=4)),
    # NMS over 2000 boxes per FPN level and image dominates a CPU step: 500 suffice for
    # 256x256 scenes of at most 6 objects.
    train_cfg=dict(rpn_proposal=dict(nms_pre=500, max_per_img=300), rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=300)))
