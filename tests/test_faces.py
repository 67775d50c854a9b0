"""The CNN face detector on real faces, alignment, tracking, and one crop for datasets and predict."""

import importlib.metadata
from dataclasses import asdict

import cv2
import numpy as np
import pytest
from torch import nn

from fer.faces import mtcnn
from fer.faces.align import TEMPLATE, aligned_crop, similarity
from fer.faces.box import iou
from fer.faces.cropper import FaceCropper, face_crop
from fer.faces.detector import build_detector
from fer.faces.track import Smoother, Tracker
from fer.run.config import FacesConfig
from tests.helpers import shared_data


def kdef(name: str = "AF01ANS.jpg", flags: int = cv2.IMREAD_GRAYSCALE) -> np.ndarray:
    return cv2.imread(str(shared_data("kdef_sample") / name), flags)


def eye_angle(landmarks: np.ndarray) -> float:
    """The eye line's angle to the horizontal, in degrees (positive: the right-hand eye is lower)."""
    (x0, y0), (x1, y1) = landmarks[0], landmarks[1]
    return float(np.degrees(np.arctan2(y1 - y0, x1 - x0)))


def rotated(image: np.ndarray, degrees: float) -> np.ndarray:
    """The photo turned about its centre on a larger grey canvas (nothing cut off)."""
    h, w = image.shape[:2]
    canvas = cv2.copyMakeBorder(image, h // 2, h // 2, w // 2, w // 2, cv2.BORDER_CONSTANT, value=110)
    centre = (canvas.shape[1] / 2, canvas.shape[0] / 2)
    return cv2.warpAffine(canvas, cv2.getRotationMatrix2D(centre, degrees, 1.0), canvas.shape[1::-1])


def landmarks_of(image: np.ndarray) -> np.ndarray:
    found = build_detector(asdict(FacesConfig(max_side=1000))).detect(image)
    assert found, "no face found"
    return found[0].landmarks


def test_the_packaged_weights_load_into_every_layer():
    pnet, rnet, onet = mtcnn.networks()
    for net, arrays in ((pnet, 13), (rnet, 16), (onet, 21)):
        layers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.PReLU))]
        assert sum(1 if isinstance(m, nn.PReLU) else 2 for m in layers) == arrays
        assert all(p.abs().sum() > 0 for p in net.parameters())  # every tensor was written
    with pytest.raises(ValueError, match="weight arrays"):
        mtcnn.load_keras_weights(mtcnn.PNet(), [np.zeros(3)], "pnet")


def test_a_missing_detector_package_is_named(monkeypatch):
    def absent(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", absent)
    with pytest.raises(ModuleNotFoundError, match=r"needs the package 'mtcnn' \(pip install mtcnn\)"):
        mtcnn.weights_file("pnet")


def test_every_kdef_photo_has_one_face_with_landmarks_in_place():
    detector = build_detector(asdict(FacesConfig()))
    photos = sorted(shared_data("kdef_sample").glob("*.jpg"))
    for photo in photos:
        faces = detector.detect(cv2.imread(str(photo), cv2.IMREAD_GRAYSCALE))
        assert len(faces) == 1, photo.name
        (ex0, ey0), (ex1, ey1), (nx, ny), (mx0, my0), (mx1, my1) = faces[0].landmarks
        x, y, w, h = faces[0].box
        assert ex0 < nx < ex1 and mx0 < nx < mx1, photo.name  # left to right
        assert max(ey0, ey1) < ny < min(my0, my1), photo.name  # eyes, nose, mouth from the top
        assert x < ex0 and ex1 < x + w and y < ey0 and my1 < y + h, photo.name  # inside the box
        assert faces[0].score >= 0.9


def test_the_similarity_fit_recovers_a_known_transform():
    points = TEMPLATE * 100
    angle, scale, shift = np.radians(17), 2.5, np.array([30.0, -12.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = points @ (scale * rotation).T + shift
    matrix = similarity(moved, points)
    assert np.allclose(moved @ matrix[:, :2].T + matrix[:, 2], points, atol=1e-9)
    assert np.isclose(abs(np.linalg.det(matrix[:, :2])), 1 / scale**2)


@pytest.mark.parametrize("degrees", [-20, 20])
def test_alignment_levels_the_eyes_of_a_tilted_face_and_frames_it_as_fer2013(degrees):
    tilted = rotated(kdef(), degrees)
    points = landmarks_of(tilted)
    assert abs(eye_angle(points) + degrees) < 4  # the detector sees the tilt (image y points down)
    face = aligned_crop(tilted, points, 96)
    framed = cv2.copyMakeBorder(face, 48, 48, 48, 48, cv2.BORDER_REPLICATE)  # the whole face, for detection
    after = (landmarks_of(framed) - 48) / 96
    assert abs(eye_angle(after)) < 3
    assert np.abs(after - TEMPLATE).max() < 0.06  # where FER2013's faces have theirs
    box = face_crop(tilted, build_detector(asdict(FacesConfig())).detect(tilted)[0], 96, 0.15, align=False)
    unaligned = landmarks_of(cv2.copyMakeBorder(box, 48, 48, 48, 48, cv2.BORDER_REPLICATE))
    assert abs(eye_angle(unaligned) + degrees) < 4  # a box crop keeps the tilt


def test_datasets_and_predict_crop_the_same_photo_alike():
    from fer.inference.frames import Frame
    from fer.inference.runtime import Predictor

    class Model:  # what Predictor needs of a model to crop
        image_size, input_size, classes = 48, 48, ["happy"]

    faces = asdict(FacesConfig())
    grey = kdef("AM19HAS.jpg")
    dataset_crop, found = FaceCropper(48, 0.15, faces)(grey)
    predictor = Predictor(Model(), faces, 0.15)
    assert found and np.array_equal(predictor.faces(Frame("x.jpg", 0, grey))[1][0], dataset_crop)
    colour = predictor.faces(Frame("x.jpg", 0, kdef("AM19HAS.jpg", cv2.IMREAD_COLOR)))[1][0]
    assert np.abs(colour.astype(int) - dataset_crop).mean() < 2  # JPEG colour vs grey decoding only


def test_tracks_follow_faces_that_move_and_swap_places_in_the_list():
    tracker = Tracker(min_iou=0.3, patience=2)
    a, b = np.array([10, 10, 50, 50]), np.array([200, 40, 60, 60])
    assert tracker.update([a, b], 0) == [0, 1]
    assert tracker.update([b + [5, 0, 0, 0], a + [4, 2, 0, 0]], 1) == [1, 0]  # listed the other way round
    assert tracker.update([a + [8, 4, 0, 0]], 2) == [0]  # b unseen
    assert tracker.update([a + [12, 6, 0, 0], b + [10, 0, 0, 0]], 3) == [0, 1]  # b back within patience
    assert tracker.update([b + [10, 0, 0, 0]], 7) == [2]  # after 4 unseen frames: a new face
    assert iou(a, a)[0, 0] == 1 and iou(a, b)[0, 0] == 0


def test_a_face_goes_to_the_track_seen_most_recently_not_to_one_long_gone():
    """A clip cutting between people at nearly one place: the face at frame 10 overlaps both the track
    gone since frame 0 (more) and the track seen at frame 9 (less); the recent one takes it."""
    tracker = Tracker(min_iou=0.3, patience=10)
    old, newer, now = np.array([100, 100, 80, 80]), np.array([150, 100, 80, 80]), np.array([120, 100, 80, 80])
    assert iou(now, old)[0, 0] > iou(now, newer)[0, 0] >= 0.3 > iou(old, newer)[0, 0]
    assert tracker.update([old], 0) == [0]
    for frame in range(1, 10):
        assert tracker.update([newer], frame) == [1]
    assert tracker.update([now], 10) == [1]


def test_smoothing_averages_a_track_over_its_window():
    smooth = Smoother(2)
    assert np.allclose(smooth(0, [1.0, 0.0]), [1, 0])
    assert np.allclose(smooth(0, [0.0, 1.0]), [0.5, 0.5])
    assert np.allclose(smooth(0, [0.0, 1.0]), [0, 1])  # the oldest frame has left the window
    assert np.allclose(smooth(1, [0.2, 0.8]), [0.2, 0.8])  # each track on its own


def test_suppression_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [2, 2, 6, 6]], float)
    scores = np.array([0.9, 0.95, 0.8, 0.7])
    assert mtcnn.keep_best(boxes, scores, 0.5).tolist() == [1, 2, 3]  # box 0 overlaps box 1 at IoU 0.68
    assert mtcnn.keep_best(boxes, scores, 0.5, over="min").tolist() == [1, 2]  # box 3 lies inside box 1


def test_a_frame_without_a_face_gives_no_face():
    wall = np.random.default_rng(0).integers(90, 110, (480, 640), dtype=np.uint8)
    assert build_detector(asdict(FacesConfig())).detect(wall) == []
    assert build_detector(asdict(FacesConfig(detector="haar"))).detect(wall) == []


def test_the_grey_networks_equal_the_colour_ones_on_grey_input():
    import torch

    grey = torch.rand(3, 1, 48, 48) * 2 - 1
    for net in mtcnn.networks():
        size = 48 if net is mtcnn.networks()[2] else 24
        x = grey[:, :, :size, :size]
        with torch.no_grad():
            for a, b in zip(net(x.expand(-1, 3, -1, -1)), mtcnn.for_grey(net)(x)):
                assert a is None and b is None or torch.allclose(a, b, atol=1e-5)


def test_between_searches_a_video_follows_its_faces_where_they_were():
    from fer.inference.frames import Frame
    from fer.inference.runtime import Predictor

    class Model:
        image_size, input_size, classes = 48, 48, ["happy"]

    photo = kdef("AM19HAS.jpg")
    newcomer = cv2.resize(kdef("AF01ANS.jpg"), (192, 240))
    frames = []
    for i in range(7):
        frame = np.full((480, 640), 60, np.uint8)
        frame[100:420, 40 + 12 * i : 296 + 12 * i] = photo  # moves right
        if i >= 4:
            frame[120:360, 420:612] = newcomer  # enters at frame 4
        frames.append(Frame("clip.avi", i, frame, fps=25.0))
    searching = Predictor(Model(), asdict(FacesConfig()), 0.15)
    following = Predictor(Model(), asdict(FacesConfig()), 0.15, search_every=3)
    calls = []
    detect = following.detector.detect
    following.detector.detect = lambda image, around=None: (
        calls.append(around is None) or detect(image, around)
    )
    for frame in frames:
        full, tracks_full, _ = searching.frame_faces(frame)
        found, tracks, crops = following.frame_faces(frame)
        if frame.index in (4, 5):  # the newcomer waits for the next search, at frame 6
            assert len(found) == 1 and len(full) == 2 and iou(found[0].box, full[0].box)[0, 0] > 0.8
            continue
        assert len(found) == len(full) and len(crops) == len(found) and tracks == tracks_full
        assert all(iou(a.box, b.box)[0, 0] > 0.8 for a, b in zip(found, full))
    assert calls == [True, False, False, True, False, False, True]


def test_detectors_start_in_several_threads_at_once():
    from concurrent.futures import ThreadPoolExecutor

    mtcnn.built_sessions.cache_clear()  # the first use, as a dataset's decoding threads make it
    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(lambda _: len(build_detector(asdict(FacesConfig())).detect(kdef())), range(4)))
    assert found == [1, 1, 1, 1]
