"""The graph ONNX Runtime runs: export-time rewrites into faster ops, equal to
PyTorch, and the per-operator profile."""
import re

import numpy as np
import pytest
import torch
from torch import nn

from conftest import load_tool
from mmfilter.deploy import NonMaxSuppression, export_rewrites, export_to_onnx
from mmfilter.deploy.profile import OpTime, profile_ops, render_op_table, summarise_kernels
from mmfilter.deploy.rewrites import gather_rows_nd, scatter_rows_nd
from mmfilter.deploy.wrappers import classes_apart
from mmfilter.models.layers import MultiheadSelfAttention
from mmfilter.models.token_selection import gather_rows, scatter_rows


def _onnx_outputs(module: nn.Module, inputs, path, runtime_kernels: bool = True):
    import onnx
    import onnxruntime as ort
    names = [f'in{i}' for i in range(len(inputs))]
    with export_rewrites(runtime_kernels), torch.no_grad():
        torch.onnx.export(module, tuple(inputs), str(path), dynamo=False, opset_version=17,
                          input_names=names)
    runtime = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    op_types = {node.op_type for node in onnx.load(str(path)).graph.node}
    return runtime.run(None, {n: t.numpy() for n, t in zip(names, inputs)}), op_types


class _GatherScatter(nn.Module):
    def forward(self, sequences, indices, rows):
        return gather_rows_nd(sequences, indices), scatter_rows_nd(sequences, indices, rows)


def test_token_rows_gathered_and_scattered_whole_equal_pytorch(tmp_path):
    sequences, rows = torch.rand(2, 30, 5), torch.rand(2, 4, 5)
    indices = torch.stack([torch.randperm(30)[:4] for _ in range(2)])
    (gathered, scattered), op_types = _onnx_outputs(_GatherScatter(), (sequences, indices, rows),
                                                    tmp_path / 'rows.onnx')
    assert {'GatherND', 'ScatterND'} <= op_types and 'ScatterElements' not in op_types
    np.testing.assert_array_equal(gathered, gather_rows(sequences, indices).numpy())
    np.testing.assert_array_equal(scattered, scatter_rows(sequences, indices, rows).numpy())
    with torch.no_grad():  # the PyTorch forwards the exporter traces
        torch.testing.assert_close(_GatherScatter()(sequences, indices, rows)[1],
                                   scatter_rows(sequences, indices, rows), rtol=0, atol=0)


@pytest.mark.parametrize('runtime_kernels', [True, False])
def test_self_attention_fused_for_onnx_runtime_or_standard_ops(tmp_path, runtime_kernels):
    torch.manual_seed(0)
    attention, x = MultiheadSelfAttention(32, 4).eval(), torch.randn(2, 50, 32)
    (out, ), op_types = _onnx_outputs(attention, (x, ), tmp_path / 'attn.onnx', runtime_kernels)
    assert ('MultiHeadAttention' in op_types) == runtime_kernels
    assert ('Softmax' in op_types) != runtime_kernels
    with torch.no_grad():
        expected = attention(x).numpy()
    np.testing.assert_allclose(out, expected, atol=1e-5, rtol=1e-4)
    assert MultiheadSelfAttention.forward.__name__ == 'forward'  # restored after the export


def test_one_nms_over_classes_moved_apart_is_per_class_nms():
    generator = torch.Generator().manual_seed(0)
    corners = torch.rand(80, 2, generator=generator) * 50
    boxes = torch.cat([corners, corners + 5 + torch.rand(80, 2, generator=generator) * 20], -1)
    scores = torch.rand(80, generator=generator)
    labels = torch.randint(0, 3, (80, ), generator=generator)
    one_hot = nn.functional.one_hot(labels, 3).t().float() * scores
    per_class = NonMaxSuppression.apply(boxes[None], one_hot[None], 100, 0.5, 0.2)[:, 2]
    together = NonMaxSuppression.apply(classes_apart(boxes, labels)[None], scores[None, None],
                                       100, 0.5, 0.2)[:, 2]
    assert len(per_class) > 10 and len(labels[per_class].unique()) == 3
    assert sorted(per_class.tolist()) == sorted(together.tolist())


def test_kernel_times_summed_per_op_type_over_the_last_runs():
    def event(node, op, ts, dur):
        return dict(cat='Node', name=f'{node}_kernel_time', ts=ts, dur=dur, args=dict(op_name=op))
    events = [event('conv1', 'Conv', 0, 900), event('conv1', 'Conv', 10, 100),
              event('conv1', 'Conv', 20, 300), event('conv2', 'Conv', 21, 500),
              event('conv2', 'Conv', 11, 500), event('mm', 'MatMul', 22, 2000),
              event('mm', 'MatMul', 12, 2000), dict(cat='Node', name='mm_fence_before', dur=9)]
    rows = summarise_kernels(events, runs=2)  # the first conv1 run is warm-up
    assert rows == [OpTime('MatMul', 2.0, 1), OpTime('Conv', 0.7, 2)]
    table = render_op_table(rows, top=1)
    assert '| MatMul | 2.00 | 74.1% | 1 |' in table and '| (1 other types) | 0.70 |' in table
    assert table.endswith('| **total** | 2.70 | 100% | 3 |')


def test_profile_of_a_graph_names_its_op_types(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Flatten(), nn.Linear(8 * 14 * 14, 10)).eval()
    image = torch.rand(1, 3, 16, 16)
    export_to_onnx(model, image, str(tmp_path / 'net.onnx'), output_names=['out'])
    rows = profile_ops(str(tmp_path / 'net.onnx'), {'input': image.numpy()}, runs=3, threads=1)
    assert {'Conv', 'Gemm'} <= {row.op_type for row in rows}
    assert all(row.ms > 0 and row.nodes >= 1 for row in rows)
    assert [row.ms for row in rows] == sorted((row.ms for row in rows), reverse=True)


@pytest.mark.slow
def test_onnx_benchmark_prints_the_profile_of_each_graph(tmp_path, capsys):
    load_tool('deploy/benchmark_onnx.py').main(
        ['--models', 'ssdlite', '--backbones', 'FilterViT-xxs', '--repeats', '1', '--warmup', '0',
         '--no-int8', '--profile', '2', '--out-dir', str(tmp_path)])
    profile = (tmp_path / 'profile_ssdlite_FilterViT-xxs.md').read_text()
    assert '2 threads, kernel time per run over 2 runs' in profile
    assert profile in capsys.readouterr().out
    assert '| Conv |' in profile and '| MultiHeadAttention |' in profile
    assert re.search(r'\| \*\*total\*\* \| [\d.]+ \| 100% \| \d+ \|', profile)
