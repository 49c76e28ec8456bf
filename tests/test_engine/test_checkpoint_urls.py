"""Checkpoints by URL, as MMDetection's configs name them: downloaded through MMEngine's
loaders (here from a loopback HTTP server), checked to fit the model like a local file,
and evaluated; a URL that does not answer is one line."""
import functools
import http.server
import pickle
import shutil
import threading

import pytest
from conftest import run_tool

pytestmark = pytest.mark.slow  # tool runs, trainings, processes: integration tests


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A loopback HTTP server over ``tmp_path / 'www'``; torch's hub cache in tmp_path."""
    root = tmp_path / 'www'
    root.mkdir()
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f'http://127.0.0.1:{server.server_address[1]}'
    finally:
        server.shutdown()
        server.server_close()


def test_test_tool_evaluates_a_checkpoint_by_url_and_dumps_its_results(trained_detector, served,
                                                                          tmp_path):
    cfg, work, _ = trained_detector
    root, url = served
    shutil.copy(work / 'epoch_2.pth', root / 'detector.pth')
    out = tmp_path / 'results.pkl'
    proc = run_tool('test.py', cfg, f'{url}/detector.pth', '--work-dir', tmp_path / 'test',
                    '--out', out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'coco/bbox_mAP' in proc.stdout + proc.stderr
    with open(out, 'rb') as f:
        results = pickle.load(f)
    assert len(results) == 4 and all('pred_instances' in r for r in results)  # the 4 val images


def test_a_url_that_does_not_answer_is_one_line(trained_detector, served, tmp_path):
    cfg, work, _ = trained_detector
    root, url = served
    proc = run_tool('test.py', cfg, f'{url}/missing.pth', '--work-dir', tmp_path / 'missing')
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith(
        f'error: checkpoint {url}/missing.pth cannot be loaded (HTTPError')
    assert 'Traceback' not in proc.stderr
