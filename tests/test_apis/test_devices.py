"""Where the tools run: a GPU where there is one, the CPU otherwise."""
from unittest import mock

from conftest import load_tool


def test_device_defaults_to_cuda_where_available():
    from mmfilter.apis import default_device
    for cuda, expected in ((True, 'cuda'), (False, 'cpu')):
        with mock.patch('torch.cuda.is_available', return_value=cuda):
            assert default_device() == expected
    for tool, argv in (('infer.py', ['config.py', 'model.pth', 'image.png']),
                       ('visualize_filter.py', ['config.py', 'image.png', '--out-dir', 'out'])):
        assert load_tool(tool).parse_args(argv).device is None  # init_model's default
