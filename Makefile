# The demo of the README's quick start and the test suite; each sets up what it needs first
# (tools/install.sh: minutes the first time, seconds once everything is there).
.PHONY: demo test

# Main job: RetinaNet-DropoutViT trained and evaluated on the embedded demo data.
demo:
	bash tools/install.sh
	python tools/train.py configs/dropoutvit/retinanet_dropoutvit_demo.py

# The test suite; its set-up adds the test tools (requirements/tests.txt, ONNX Runtime).
test:
	bash tools/install.sh --tests
	python -m pytest tests
