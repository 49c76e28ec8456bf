# The two commands of the README's quick start; each sets up what it needs first
# (tools/install.sh: minutes the first time, a second once everything is there).
.PHONY: setup demo test

setup:
	bash tools/install.sh

# Main job: RetinaNet-DropoutViT trained and evaluated on the embedded demo data.
demo: setup
	python tools/train.py configs/retinanet_dropoutvit_demo.py

test: setup
	python -m pytest tests
