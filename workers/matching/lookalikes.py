"""Telling an attendee from their look-alike, by the event's own structure.

A fixed distance cannot do it alone: a bystander who resembles an attendee is nobody's
runner-up, so nothing stands in the way of their faces, and the more faces an attendee is
compared with, the more strangers fall within any tolerance (loadtest/README.md,
"Precision"). But a person at an event is rarely in one photo only, and their faces agree
with each other better than with anyone else's selfie.

So the faces whose nearest attendee is A, within the tolerance plus GROUP_SLACK, are
grouped into people: two faces of different photos within `link` of each other are
one person's (a person is never twice in one photo), and groups are the connected parts
of that graph. A group of two or more faces speaks with the mean of its distances, which
the noise of any one face (a blur, a small face, a turned head) moves far less than it
moves one distance. A group whose mean distance to A is more than `offset` inside the
tolerance is another person, a look-alike, and none of its faces is A's, however near one
of them is. A face alone in its group keeps the face rule (the tolerance and the
weak-face rule).

The encodings of unregistered people are used for this and for nothing else: they are
never shown, matched or kept longer (their purge after the event closes is unchanged).

This module is pure: arrays in, flags out. regroup.py keeps the flags in
`face_nearest.lookalike` up to date for every attendee whose faces change, and the brute-force
reference applies the same function.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

GROUP_SLACK = 0.05
"""Faces this much beyond the tolerance still count for grouping (a look-alike's farther
faces make their group's mean honest), though they can never match."""
MIN_GROUP = 2
"""A group of fewer faces keeps the face rule: one distance has no mean to speak with."""


def scope(tolerance: float) -> float:
    """The distance within which an attendee's faces are grouped."""
    return tolerance + GROUP_SLACK


def groups(photo_ids: Sequence[object], encodings: np.ndarray, link: float) -> np.ndarray:
    """A group number for each face: connected parts of the graph whose edges join faces of
    different photos within `link` of each other. (Each face takes the smallest number
    among its neighbours' until none changes: a few rounds of one matrix operation.)"""
    n = len(photo_ids)
    labels = np.arange(n)
    if n < 2:
        return labels
    vectors = np.asarray(encodings, dtype=np.float64)
    squares = np.einsum("ij,ij->i", vectors, vectors)
    near = squares[:, None] + squares[None, :] - 2 * (vectors @ vectors.T) <= link * link
    photos = np.asarray([str(p) for p in photo_ids])
    near &= photos[:, None] != photos[None, :]
    np.fill_diagonal(near, True)
    while True:
        smallest = np.where(near, labels[None, :], n).min(axis=1)
        if (smallest == labels).all():
            return labels
        labels = smallest


def held_back(
    photo_ids: Sequence[object],
    distances: np.ndarray,
    encodings: np.ndarray,
    *,
    tolerance: float,
    link: float,
    offset: float,
) -> np.ndarray:
    """For each of one attendee's faces (their photo, distance to the attendee and
    encoding), whether it belongs to a look-alike's group and must not be matched."""
    distances = np.asarray(distances, dtype=np.float64)
    if len(distances) < MIN_GROUP or link <= 0:
        return np.zeros(len(distances), dtype=bool)
    labels = groups(photo_ids, encodings, link)
    sizes = np.bincount(labels)
    means = np.bincount(labels, weights=distances) / np.maximum(sizes, 1)
    return np.asarray((sizes[labels] >= MIN_GROUP) & (means[labels] > tolerance - offset))
