"""Attention rollout through filter blocks, LRP's conservation, and the deletion test."""
import pytest
import torch
from torch import nn

from mmfilter import FilterViT
from mmfilter.models.layers.transformer import TransformerEncoder
from mmfilter.models.token_selection import as_tokens
from mmfilter.visualization import deletion
from mmfilter.visualization.attribution import (conservative_rules, gradient_x_input,
                                                record_attention, rollout_maps)


def _first_block_rollout_by_hand(backbone: FilterViT, image: torch.Tensor) -> torch.Tensor:
    """Standard rollout of stage 0's filter block, every pixel a token: ``[N, N]``,
    from attention weights recomputed here from the layers' parameters."""
    block = backbone.stages[0][-1]
    captured = {}
    handle = block.register_forward_pre_hook(lambda _, args: captured.setdefault('x', args[0]))
    with torch.no_grad():
        backbone(image)
    handle.remove()
    x = captured['x']
    height, width = x.shape[2:]
    attention = block.transformer
    indices = torch.arange(height * width)[None]
    hidden = attention.proj_in(as_tokens(x)) + attention.pos_embed(indices, height, width)
    result = torch.eye(height * width)
    with torch.no_grad():
        for layer in attention.encoder.layers:
            normed = layer.norm1(hidden)
            heads, dim = layer.attn.num_heads, normed.shape[-1]
            q, k, _ = layer.attn.qkv(normed)[0].view(-1, 3, heads, dim // heads).permute(1, 2, 0, 3)
            weights = torch.softmax(q @ k.transpose(-1, -2) / (dim // heads) ** 0.5, -1).mean(0)
            mixed = 0.5 * weights + 0.5 * torch.eye(len(weights))
            result = (mixed / mixed.sum(-1, keepdim=True)) @ result
            hidden = layer(hidden)
    return result


def test_rollout_of_a_dense_block_is_the_standard_rollout():
    torch.manual_seed(0)
    backbone = FilterViT(arch='xxs', token_rule=dict(ratio=1.0, budget=None)).eval()
    image = torch.randn(1, 3, 32, 48)
    expected = _first_block_rollout_by_hand(backbone, image)  # [N, N], N = 8 * 12
    with record_attention(backbone) as records:
        with torch.no_grad():
            backbone(image)
    first = records[:1]
    assert first[0]['indices'].shape[1] == first[0]['size'][0] * first[0]['size'][1] == 96
    for pixel in (0, 37, 95):  # a one-hot target at one output pixel of the block
        target = torch.zeros(1, 8, 12)
        target.view(-1)[pixel] = 1
        per_block, chained = rollout_maps(first, target)
        torch.testing.assert_close(per_block[0].flatten(), expected[pixel], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(chained, per_block[0])


def test_rollout_passes_unselected_pixels_through_scaled_by_the_papers_mask():
    torch.manual_seed(0)
    backbone = FilterViT(arch='xxs', mask_mode='scale', token_rule=dict(ratio=0.25)).eval()
    with record_attention(backbone) as records, torch.no_grad():
        backbone(torch.randn(1, 3, 32, 32))
    record = records[0]
    selected = set(record['indices'][0].tolist())
    unselected = next(i for i in range(64) if i not in selected)
    target = torch.zeros(1, 8, 8)
    target.view(-1)[unselected] = 1
    own = rollout_maps([record], target)[0][0].flatten()
    assert own[unselected] == pytest.approx(float(record['mask'][0, unselected]))
    assert torch.count_nonzero(own) == 1  # nothing flows into or out of an unselected pixel
    target = torch.zeros(1, 8, 8)
    target.view(-1)[next(iter(selected))] = 1
    own = rollout_maps([record], target)[0][0].flatten()
    assert set(torch.nonzero(own).flatten().tolist()) <= selected  # only among the K tokens


class _ConvNet(nn.Module):
    """Conv-ReLU-conv-ReLU-pool-linear without biases: LRP-0 is exact and conserving."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1, bias=False)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(6, 8, 3, padding=1, bias=False)
        self.relu2 = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 2, bias=False)

    def forward(self, x):
        return self.fc(self.pool(self.relu2(self.conv2(self.relu1(self.conv1(x))))).flatten(1))


def test_lrp_conserves_relevance_and_matches_captum_on_a_conv_net():
    from captum.attr import LRP
    torch.manual_seed(0)
    model = _ConvNet().eval()
    inputs = torch.randn(2, 3, 10, 12)
    relevance = gradient_x_input(lambda x: model(x)[:, 1], inputs)
    torch.testing.assert_close(relevance.flatten(1).sum(1), model(inputs)[:, 1].detach(),
                               atol=1e-5, rtol=1e-4)
    reference = LRP(model).attribute(inputs, target=1).sum(1)
    torch.testing.assert_close(relevance, reference.detach(), atol=1e-5, rtol=1e-3)


def test_conservative_rules_conserve_relevance_through_a_transformer():
    torch.manual_seed(0)
    encoder = TransformerEncoder(16, depth=2, num_heads=4).eval()
    for name, param in encoder.named_parameters():
        if name.endswith('bias'):
            nn.init.zeros_(param)  # relevance is conserved where no bias absorbs it
    weights, tokens = torch.randn(5, 16), torch.randn(1, 5, 16)

    def score(x):
        return (encoder(x[:, 0]) * weights).sum((1, 2))

    def relevance_sum():
        return gradient_x_input(score, tokens[:, None]).sum().item()

    with conservative_rules(encoder):
        conserved = relevance_sum()
        assert conserved == pytest.approx(score(tokens[:, None]).item(), rel=1e-4, abs=1e-5)
        patched = encoder.layers[0].norm1.forward
    assert relevance_sum() != pytest.approx(conserved, rel=1e-2)  # plain gradient x input
    assert encoder.layers[0].norm1.forward != patched  # the class's forward is back


def test_deletion_removes_the_ranked_cells_in_order():
    inputs = torch.ones(1, 1, 8, 8)
    ranking = deletion.cell_ranking(torch.arange(16.).view(4, 4), (4, 4))
    assert ranking[:3].tolist() == [15, 14, 13]
    deleted = deletion.deletion_inputs(inputs, ranking, (4, 4), fractions=(0, 0.25, 1))
    assert deleted.shape == (3, 1, 8, 8)
    assert deleted[0].sum() == 64 and deleted[1].sum() == 48 and deleted[2].sum() == 0
    assert deleted[1, 0, 6:, 6:].sum() == 0  # cell 15 (bottom right) went first


def test_input_gradient_of_a_linear_model_deletes_faster_than_random():
    generator = torch.Generator().manual_seed(0)
    weights = (torch.rand(1, 3, 16, 16, generator=generator) > 0.9).float()  # a few pixels matter
    inputs = torch.rand(1, 3, 16, 16, generator=generator)

    def score(x):
        return (x * weights).sum((1, 2, 3))

    with torch.enable_grad():
        x = inputs.clone().requires_grad_()
        gradient, = torch.autograd.grad(score(x).sum(), x)
    grid = (8, 8)
    auc = {}
    for name, saliency in (('gradient', gradient[0].sum(0)),
                           ('random', torch.rand(grid, generator=generator))):
        ranking = deletion.cell_ranking(saliency, grid)
        curve = deletion.normalised_curve(deletion.deletion_curve(score, inputs, ranking, grid))
        assert curve[0] == pytest.approx(1) and curve[-1] == pytest.approx(0)
        auc[name] = deletion.area_under_curve(curve)
    assert auc['gradient'] < auc['random'] - 0.1
