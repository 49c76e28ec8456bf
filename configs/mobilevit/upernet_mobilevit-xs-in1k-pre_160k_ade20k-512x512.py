# UPerNet (512 channels) + auxiliary FCN head with MobileViT-xs (dense 2x2-patch attention)
# starting from its ImageNet-1k weights; ADE20K (data/ade/ADEChallengeData2016), 512x512 crops,
# 160k iterations with AdamW 6e-5: the baseline of
# upernet_filtermobilevit-xs-in1k-pre_160k_ade20k-512x512.py, same weights, data and schedule.
# Convert the weights once:
#   python tools/model_converters/mobilevit_to_mmfilter.py mobilevit_xs.pt \
#       checkpoints/mobilevit-xs_mmfilter.pth
#   python tools/train.py configs/mobilevit/upernet_mobilevit-xs-in1k-pre_160k_ade20k-512x512.py
_base_ = ['../filtermobilevit/upernet_filtermobilevit-xs-in1k-pre_160k_ade20k-512x512.py']
model = dict(backbone=dict(type='MobileViT'))
