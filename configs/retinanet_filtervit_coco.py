# The documented entry point: RetinaNet (FPN 256 channels, 4-conv head) with FilterViT-xs trained
# from scratch on COCO 2017, 1x schedule. The config itself, with its results and siblings:
# configs/filtervit/retinanet_filtervit-xs-scratch_fpn_1x_coco.py (configs/filtervit/README.md).
#   python tools/train.py configs/retinanet_filtervit_coco.py
#   bash tools/dist_train.sh configs/retinanet_filtervit_coco.py 8
_base_ = ['./filtervit/retinanet_filtervit-xs-scratch_fpn_1x_coco.py']
