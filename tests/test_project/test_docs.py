"""The documentation holds together: every relative link and anchor resolves, the
README stays a product page, and the tree speaks of the product only."""
import os
import os.path as osp
import re
import subprocess
from typing import Iterator, List, Set, Tuple

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PROSE_FOLDERS = ('docs', 'configs', 'mmfilter', 'tools', 'tests')
TEXT_SUFFIXES = ('.md', '.py', '.sh', '.txt', '.cfg', '.toml', '.ini')


def markdown_files() -> List[str]:
    """README.md, CHANGELOG.md and every page under configs/ and docs/."""
    files = ['README.md', 'CHANGELOG.md']
    for folder in ('configs', 'docs'):
        for root, _, names in os.walk(osp.join(REPO, folder)):
            files += [osp.relpath(osp.join(root, n), REPO) for n in names if n.endswith('.md')]
    return sorted(files)


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, markup and punctuation other
    than ``-`` and ``_`` dropped, spaces to ``-``."""
    text = re.sub(r'`|\*\*|\*|\[|\]\([^)]*\)', '', heading.strip()).lower()
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


def anchors_of(path: str) -> Set[str]:
    """Every heading anchor of a markdown file (repeated headings get ``-1``, ``-2``)."""
    seen, anchors, in_code = {}, set(), False
    with open(osp.join(REPO, path), encoding='utf-8') as f:
        for line in f:
            if line.startswith('```'):
                in_code = not in_code
            match = None if in_code else re.match(r'#{1,6} (.+)', line)
            if match:
                anchor = github_anchor(match.group(1))
                count = seen.get(anchor, 0)
                anchors.add(anchor if count == 0 else f'{anchor}-{count}')
                seen[anchor] = count + 1
    return anchors


def relative_links(path: str) -> Iterator[Tuple[int, str]]:
    """``(line number, target)`` of every markdown link or image that is not a URL,
    code blocks and inline code excluded."""
    in_code = False
    with open(osp.join(REPO, path), encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            if line.startswith('```'):
                in_code = not in_code
            if in_code:
                continue
            for target in re.findall(r'\]\(([^)\s]+)(?:\s+"[^"]*")?\)', re.sub(r'`[^`]*`', '', line)):
                if not re.match(r'[a-z][a-z0-9+.-]*:', target):  # http:, https:, mailto:
                    yield number, target


@pytest.mark.parametrize('page', markdown_files())
def test_every_relative_link_and_anchor_resolves(page):
    assert osp.isfile(osp.join(REPO, page)), f'{page} is missing'
    broken = []
    for number, target in relative_links(page):
        file_part, _, anchor = target.partition('#')
        resolved = osp.normpath(osp.join(osp.dirname(page), file_part)) if file_part else page
        if not osp.exists(osp.join(REPO, resolved)):
            broken.append(f'{page}:{number}: {target} (no {resolved})')
        elif anchor and resolved.endswith('.md') and anchor not in anchors_of(resolved):
            broken.append(f'{page}:{number}: {target} (no heading #{anchor} in {resolved})')
    assert not broken, 'broken links:\n' + '\n'.join(broken)


#: The sections of a product page, in MMDetection's ``projects/*/README.md`` order.
README_SECTIONS = ('Which backbone when', 'Contents', 'Install', 'Quick start', 'Use in your config',
                   'Results', 'Deploy', 'Citation')


def test_readme_is_a_product_page():
    """At most 150 lines: the backbone table with when to pick each in its first 40
    lines, then the product page's sections in order, each backbone linking its
    config folder."""
    with open(osp.join(REPO, 'README.md'), encoding='utf-8') as f:
        lines = f.read().splitlines()
    assert len(lines) <= 150, f'README.md has {len(lines)} lines'
    first_screen = '\n'.join(lines[:40])
    for backbone in ('FilterViT', 'DropoutViT', 'MobileViT', 'FilterMobileViT'):
        assert f'| [{backbone}](configs/{backbone.lower()}/README.md)' in first_screen, backbone
    assert re.search(r'when to pick', first_screen, re.IGNORECASE)
    headings = [line[3:] for line in lines if line.startswith('## ')]
    assert headings == list(README_SECTIONS)


#: Words of the product's own history, and first-person prose.
HISTORY = [
    (r'\bsessions?\b', re.IGNORECASE, 'a work session'),
    (r'\bissues? #?\d+\b', re.IGNORECASE, 'an internal issue number'),
    (r'(?<![\w/.-])#\d{1,3}\b', 0, 'an internal issue number'),
    (r'\b(?:we|We|our|Our|ours|Ours|us|Us|my|My|I)\b', 0, 'first person'),
]
#: What may stand beside those words: other projects' names for their own things.
ALLOWED = re.compile(r"InferenceSession|SessionOptions|scope=['\"]session['\"]|"
                     r"[\w.-]+/[\w.-]+#\d+|\* I\b|\bI/O\b")


def project_files() -> List[str]:
    files = [p for p in ('README.md', 'CHANGELOG.md', 'Makefile', 'setup.py')
             if osp.isfile(osp.join(REPO, p))]
    for folder in PROSE_FOLDERS:
        for root, _, names in os.walk(osp.join(REPO, folder)):
            if '__pycache__' in root:
                continue
            files += [osp.relpath(osp.join(root, n), REPO) for n in names]
    return sorted(f for f in files if f != osp.join('tests', 'test_project', 'test_docs.py'))  # names the words


def commits_of_this_repository() -> List[str]:
    try:
        out = subprocess.run(['git', 'rev-list', '--all'], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    return out.split()


def test_the_tree_speaks_of_the_product_only():
    """No word of how the project was made in the docs, configs, code or tests, file
    names included: no work sessions, no internal issue numbers, no commit hash of
    this repository, no first person."""
    commits = commits_of_this_repository()
    found = []
    for path in project_files():
        name_hits = [why for pattern, flags, why in HISTORY[:1] if re.search(pattern, path, flags)]
        if re.search(r'_s\d+\.\w+$', path):
            name_hits.append('a session suffix')
        found += [f'{path}: file name: {why}' for why in name_hits]
        if not path.endswith(TEXT_SUFFIXES) and osp.basename(path) != 'Makefile':
            continue
        with open(osp.join(REPO, path), encoding='utf-8') as f:
            for number, line in enumerate(f, 1):
                text = ALLOWED.sub('', line)
                for pattern, flags, why in HISTORY:
                    match = re.search(pattern, text, flags)
                    if match:
                        found.append(f'{path}:{number}: {why}: {match.group(0)!r}')
                for word in re.findall(r'\b[0-9a-f]{7,40}\b', text):
                    if re.search(r'[a-f]', word) and re.search(r'\d', word) and \
                            any(c.startswith(word) for c in commits):
                        found.append(f'{path}:{number}: a commit hash of this repository: {word}')
    assert not found, '\n'.join(found)
