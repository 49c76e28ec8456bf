"""Detections of two runtimes compared: pairs of the same class within tolerances."""
from typing import Dict

import numpy as np


def match_detections(ref: Dict[str, np.ndarray], got: Dict[str, np.ndarray], floor: float,
                     box_tol: float, score_tol: float) -> dict:
    """Pair each ``ref`` detection with the closest ``got`` one of its class and
    compare: ``dict(ref, got, matched, box_diff, score_diff, missed, extra)``; a
    detection left unpaired counts as ``missed`` (of ``ref``) or ``extra`` (of
    ``got``) unless its score is within ``score_tol`` of ``floor``."""
    free = np.ones(len(got['scores']), bool)
    box_diff = score_diff = 0.
    matched = 0
    unpaired_ref = []
    for box, score, label in zip(ref['bboxes'], ref['scores'], ref['labels']):
        candidates = np.flatnonzero(free & (got['labels'] == label))
        if len(candidates):
            diffs = np.abs(got['bboxes'][candidates] - box).max(1)
            best = candidates[diffs.argmin()]
            if diffs.min() <= box_tol and abs(got['scores'][best] - score) <= score_tol:
                free[best] = False
                matched += 1
                box_diff = max(box_diff, float(diffs.min()))
                score_diff = max(score_diff, float(abs(got['scores'][best] - score)))
                continue
        unpaired_ref.append(score)
    unpaired_got = got['scores'][free]
    return dict(ref=len(ref['scores']), got=len(got['scores']), matched=matched,
                box_diff=box_diff, score_diff=score_diff,
                missed=sum(s > floor + score_tol for s in unpaired_ref),
                extra=int((unpaired_got > floor + score_tol).sum()))


def cut_score(result: Dict[str, np.ndarray], score_threshold: float, max_detections: int) -> float:
    """The lowest score a detection list could have kept: the score threshold, or
    its last score where it holds ``max_detections``."""
    if len(result['scores']) >= max_detections:
        return float(result['scores'].min())
    return float(score_threshold)
