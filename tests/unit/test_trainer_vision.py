"""Image paths of a vision dataset, checked before the model loads."""

from __future__ import annotations

from pathlib import Path

from sftjob_trainer.vision import missing_images


def test_every_image_path_that_is_no_file_is_counted_and_the_first_named(tmp_path: Path) -> None:
    here = tmp_path / "a.png"
    here.write_bytes(b"png")
    rows = [[str(here)], [str(tmp_path / "gone.png")], ["images/1.jpg", "images/2.JPG"],
            [str(tmp_path / "b.webp")], [str(tmp_path / "c.png")]]  # fmt: skip
    problem = missing_images("images", rows)
    assert problem is not None
    assert problem.startswith(
        f"the `images` column names images that are not files here (row 1: {tmp_path}/gone.png, "
        "row 2: images/1.jpg, row 2: images/2.JPG and 2 more); write absolute paths"
    )


def test_what_is_no_path_is_left_to_the_processor(tmp_path: Path) -> None:
    here = tmp_path / "a.png"
    here.write_bytes(b"png")
    assert (
        missing_images(
            "image", [str(here), "https://x/y.png", "iVBORw0KGgo=", None, {"bytes": b""}]
        )
        is None
    )
    assert missing_images("images", []) is None


def test_only_columns_of_text_are_read_for_paths() -> None:
    """An Image column holds decoded images: reading it for paths would decode every one."""
    import datasets
    from sftjob_trainer.vision import holds_text

    assert holds_text(datasets.Value("string"))
    assert holds_text(datasets.List(datasets.Value("string")))
    assert holds_text([datasets.Value("string")])
    assert not holds_text(datasets.Image())
    assert not holds_text(datasets.List(datasets.Image()))
    assert not holds_text(datasets.Value("int64"))


def test_a_local_file_that_is_no_image_is_named_from_pils_error(tmp_path: Path) -> None:
    from PIL import Image, UnidentifiedImageError
    from sftjob_trainer.vision import unreadable_image

    text = tmp_path / "notes.png"
    text.write_text("not an image")
    try:
        Image.open(text)
    except UnidentifiedImageError as exc:
        assert unreadable_image(exc) == str(text)
        # the same words re-raised from a DataLoader worker, inside its traceback text
        wrapped = UnidentifiedImageError(f"Caught UnidentifiedImageError in worker.\n{exc}\n")
        assert unreadable_image(wrapped) == str(text)
    else:
        raise AssertionError("PIL read text as an image")


def test_an_image_from_elsewhere_or_another_error_is_not_named() -> None:
    import io

    from PIL import Image, UnidentifiedImageError
    from sftjob_trainer.vision import unreadable_image

    try:
        Image.open(io.BytesIO(b"<html>rate limited</html>"))  # a URL's reply: a retry may pass
    except UnidentifiedImageError as exc:
        assert unreadable_image(exc) is None
    assert (
        unreadable_image(UnidentifiedImageError("cannot identify image file '/gone.png'")) is None
    )
    assert unreadable_image(OSError("cannot identify image file '/etc/hostname'")) is None
