import pytest
import torch

from mmfilter.models.token_selection import (as_tokens, from_tokens, gather_tokens,
                                             num_selected_tokens, pool_stride_for_budget,
                                             random_indices, scatter_tokens, scatter_tokens_,
                                             token_coordinates, topk_indices, uniform_indices)


@pytest.mark.parametrize('n, ratio, budget, expected', [
    (3136, 0.25, 1024, 784),      # 224x224 at stride 4: the ratio applies
    (67200, 0.25, 1024, 1024),    # 800x1344 at stride 4: the budget applies
    (10, None, None, 10),         # no rule: every token
    (10, 0.01, None, 1),          # clamped up to one token
    (10, None, 4096, 10),         # budget above the map: clamped to the map
    (7, 1.0, None, 7),
])
def test_num_selected_tokens(n, ratio, budget, expected):
    assert num_selected_tokens(n, ratio, budget) == expected


@pytest.mark.parametrize('ratio', [0, -0.5, 1.5])
def test_ratio_outside_unit_interval_is_rejected(ratio):
    with pytest.raises(ValueError, match=r'ratio must lie in \(0, 1\]'):
        num_selected_tokens(100, ratio)


def test_bad_budget_is_rejected():
    with pytest.raises(ValueError, match='budget must be a positive integer'):
        num_selected_tokens(100, None, 0)


def test_k_larger_than_map_is_rejected():
    with pytest.raises(ValueError, match='cannot select K=11 tokens from a map of 10 pixels'):
        topk_indices(torch.rand(2, 10), 11)
    with pytest.raises(ValueError, match='K=0'):
        uniform_indices(2, 5, 0, torch.device('cpu'))


def test_topk_picks_highest_scores_per_image():
    scores = torch.tensor([[0., 5, 1, 4], [9, 0, 8, 1]])
    picked = topk_indices(scores, 2).sort(dim=1).values
    assert picked.tolist() == [[1, 3], [0, 2]]


def test_random_indices_are_distinct_and_independent_per_image():
    torch.manual_seed(0)
    idx = random_indices(4, 500, 50, torch.device('cpu'))
    assert idx.shape == (4, 50)
    assert all(len(set(row.tolist())) == 50 for row in idx)
    assert not torch.equal(idx[0].sort().values, idx[1].sort().values)


@pytest.mark.parametrize('h, w, k', [(7, 9, 20), (50, 84, 1024), (3, 100, 299), (1, 1, 1), (25, 33, 825)])
def test_uniform_indices_are_distinct_deterministic_and_spread(h, w, k):
    idx = uniform_indices(h, w, k, torch.device('cpu'))
    assert idx.shape == (k, )
    assert len(set(idx.tolist())) == k
    assert int(idx.max()) < h * w
    assert torch.equal(idx, uniform_indices(h, w, k, torch.device('cpu')))
    if k >= 4 and h > 1 and w > 1:  # the picks reach every quadrant
        rows, cols = idx // w, idx % w
        for top in (True, False):
            for left in (True, False):
                in_q = ((rows < h / 2) == top) & ((cols < w / 2) == left)
                assert in_q.any()


def test_gather_then_scatter_round_trips():
    x = torch.randn(2, 3, 4, 5)
    idx = torch.tensor([[0, 7, 19], [3, 4, 5]])
    tokens = gather_tokens(x, idx)
    assert tokens.shape == (2, 3, 3)
    assert torch.equal(tokens[1, 2], x[1, :, 1, 0])  # pixel 5 = row 1, col 0
    assert torch.equal(scatter_tokens(x, idx, tokens), x)
    written = scatter_tokens(x, idx, torch.zeros_like(tokens))
    changed = (written != x).any(dim=1).flatten(1)
    expected = torch.zeros_like(changed)
    expected.scatter_(1, idx, True)
    assert torch.equal(changed, expected & (x != 0).any(dim=1).flatten(1))


def test_gather_and_scatter_agree_across_memory_layouts():
    x = torch.randn(2, 3, 4, 5)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    idx = torch.tensor([[0, 7, 19], [3, 4, 5]])
    tokens = torch.randn(2, 3, 3)
    assert torch.equal(gather_tokens(x_cl, idx), gather_tokens(x, idx))
    written = scatter_tokens(x_cl, idx, tokens)
    assert written.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(written, scatter_tokens(x, idx, tokens))
    assert torch.equal(x_cl, x)  # out of place: the input is untouched


def test_in_place_scatter_writes_into_its_input():
    x = torch.zeros(1, 2, 3, 3)
    out = scatter_tokens_(x, torch.tensor([[4]]), torch.ones(1, 1, 2))
    assert out is x
    assert x[0, :, 1, 1].tolist() == [1, 1] and x.sum() == 2


def test_token_views_share_memory_in_both_layouts():
    for x in (torch.randn(2, 3, 4, 5), torch.randn(2, 3, 4, 5).contiguous(memory_format=torch.channels_last)):
        tokens = as_tokens(x)
        assert tokens.shape == (2, 20, 3) and tokens.data_ptr() == x.data_ptr()
        assert torch.equal(tokens[1, 7], x[1, :, 1, 2])
        assert torch.equal(from_tokens(tokens, 4, 5), x)


def test_scatter_rejects_mismatched_tokens():
    with pytest.raises(ValueError, match='do not match'):
        scatter_tokens(torch.zeros(1, 4, 2, 2), torch.tensor([[0, 1]]), torch.zeros(1, 2, 3))


def test_token_coordinates_are_pixel_centres():
    coords = token_coordinates(torch.tensor([[0, 5]]), 2, 5)
    assert torch.allclose(coords, torch.tensor([[[0.25, 0.1], [0.75, 0.1]]]))


@pytest.mark.parametrize('h, w, budget', [(25, 42, 1024), (50, 84, 1024), (7, 7, 1024), (100, 3, 16)])
def test_pool_stride_meets_budget_minimally(h, w, budget):
    s = pool_stride_for_budget(h, w, budget)
    cells = lambda s: -(-h // s) * -(-w // s)  # noqa: E731
    assert cells(s) <= budget
    assert s == 1 or cells(s - 1) > budget


def test_rows_of_sequences_gather_and_scatter_back():
    from mmfilter.models.token_selection import gather_rows, scatter_rows
    sequences = torch.rand(3, 10, 4)
    indices = torch.tensor([[0, 9], [5, 1], [2, 3]])
    rows = gather_rows(sequences, indices)
    assert rows.shape == (3, 2, 4) and torch.equal(rows[1, 0], sequences[1, 5])
    written = scatter_rows(sequences, indices, rows + 1)
    changed = (written != sequences).any(-1)
    assert changed.sum() == 6 and changed[1, 5] and changed[1, 1] and not changed[1, 0]
    assert torch.equal(written[2, 3], sequences[2, 3] + 1)


def test_spread_priority_orders_ties_evenly_and_keeps_distinct_scores_in_order():
    from mmfilter.models.token_selection import spread_priority
    priority = spread_priority(16, 16, 'cpu')
    assert priority.shape == (256, ) and priority.unique().numel() == 256  # distinct
    tied = topk_indices(torch.zeros(1, 256), 16, priority)[0]
    rows, cols = tied // 16, tied % 16
    assert set(rows.tolist()) == set(range(0, 16, 4)) and set(cols.tolist()) == set(range(0, 16, 4))
    torch.manual_seed(0)
    scores = torch.randn(3, 256)
    scores[:, :10] = scores[:, 10:11]  # some ties among distinct scores
    for k in (1, 17, 255):
        plain = scores.topk(k, dim=1).values.min(dim=1).values
        chosen = scores.gather(1, topk_indices(scores, k, priority))
        assert torch.all(chosen.min(dim=1).values >= plain)  # still the k highest
    small = torch.tensor([[0., 1e-30, -1e-30, 0.]])
    assert sorted(topk_indices(small, 1, spread_priority(2, 2, 'cpu'))[0].tolist()) == [1]
