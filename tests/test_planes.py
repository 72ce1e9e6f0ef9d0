"""The three-plane viewer: orientation letters, display conventions, proportions from the spacing, PNG output."""

import matplotlib.image
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from common.datasets.volumes import Volume
from common.planes import planes_widget, plot_planes


def _marked_volume(shape=(20, 24, 16)):
    """A dim volume with one bright block at the patient's right, anterior, superior corner (high x, y, z)."""
    volume = np.full(shape, 10.0, dtype=np.float32)
    volume[-5:, -5:, -5:] = 100.0
    return volume


def _letters(axis):
    """{letter: (x, y)} of the orientation letters, in axes coordinates (0..1, left to right, bottom to top)."""
    return {text.get_text(): text.get_position() for text in axis.texts}


def _screen_x_of_bright_block(axis):
    """The horizontal display position of the bright block, as a fraction of the panel width (0 = left)."""
    image = np.asarray(axis.images[0].get_array())
    rows, columns = np.nonzero(image == image.max())
    x_display, _ = axis.transData.transform((columns.mean(), rows.mean()))
    return (x_display - axis.bbox.x0) / axis.bbox.width


def test_plot_planes_writes_a_png_with_three_labelled_panels(tmp_path):
    path = tmp_path / "figures" / "planes.png"
    figure = plot_planes(_marked_volume(), spacing=(1, 1, 1), path=path, title="case 7")
    assert path.is_file() and matplotlib.image.imread(path).ndim == 3
    axial, coronal, sagittal = figure.axes
    assert [axis.get_title().split()[0] for axis in figure.axes] == ["axial", "coronal", "sagittal"]
    assert set(_letters(axial)) == {"R", "L", "A", "P"}
    assert set(_letters(coronal)) == {"R", "L", "S", "I"}
    assert set(_letters(sagittal)) == {"A", "P", "S", "I"}
    assert "case 7" in figure._suptitle.get_text() and "radiological" in figure._suptitle.get_text()


@pytest.mark.parametrize("convention", ["radiological", "neurological"])
def test_patient_right_is_on_the_side_the_convention_says(convention):
    figure = plot_planes(_marked_volume(), convention=convention, point=(17, 21, 13))
    FigureCanvasAgg(figure).draw()
    axial, coronal, sagittal = figure.axes
    right_on_left = convention == "radiological"
    for axis in (axial, coronal):
        letters = _letters(axis)
        assert (letters["R"][0] < 0.5) == right_on_left and (letters["L"][0] < 0.5) != right_on_left
        assert (_screen_x_of_bright_block(axis) < 0.5) == right_on_left  # the block is at the patient's right
    assert _letters(axial)["A"][1] > 0.5 and _letters(coronal)["S"][1] > 0.5  # anterior / superior at the top
    assert _letters(sagittal)["A"][0] < 0.5 and _screen_x_of_bright_block(sagittal) < 0.5  # facing left


def test_panels_use_the_voxel_spacing_and_the_crosshair_marks_the_point():
    volume = Volume(_marked_volume(), (0.5, 1.0, 4.0), "synthetic")
    figure = plot_planes(volume, point=(3, 4, 5))
    axial, coronal, sagittal = figure.axes
    assert axial.get_aspect() == pytest.approx(1.0 / 0.5)  # rows are y (1 mm), columns x (0.5 mm)
    assert coronal.get_aspect() == pytest.approx(4.0 / 0.5)
    assert sagittal.get_aspect() == pytest.approx(4.0 / 1.0)
    vertical, horizontal = axial.lines
    assert vertical.get_xdata()[0] == 3 and horizontal.get_ydata()[0] == 4
    assert "z = 5" in axial.get_title() and "y = 4" in coronal.get_title() and "x = 3" in sagittal.get_title()
    np.testing.assert_array_equal(axial.images[0].get_array(), volume.array[:, :, 5].T)


def test_bad_input_is_rejected_with_value_errors():
    with pytest.raises(ValueError, match=r"3D volume of shape \(X, Y, Z\), got shape \(4, 5\)"):
        plot_planes(np.zeros((4, 5)))
    with pytest.raises(ValueError, match="inside the volume of shape"):
        plot_planes(np.zeros((4, 5, 6)), point=(1, 5, 2))
    with pytest.raises(ValueError, match="spacing must be three positive"):
        plot_planes(np.zeros((4, 5, 6)), spacing=(1, 0, 1))
    with pytest.raises(ValueError, match="convention must be one of"):
        plot_planes(np.zeros((4, 5, 6)), convention="sideways")


def test_interactive_viewer_is_importable():
    # It opens a window and blocks, so it is only imported here; display_available() decides whether to call it.
    from common.planes import display_available, show_planes_interactive

    assert callable(show_planes_interactive) and isinstance(display_available(), bool)


def test_notebook_widget_redraws_the_planes_through_the_sliders_point():
    import io

    widget = planes_widget(_marked_volume(), spacing=(1.0, 1.0, 2.0), title="marked")
    x, y, z = widget.sliders
    assert (x.value, y.value, z.value) == (10, 12, 8) and (x.max, y.max, z.max) == (19, 23, 15)
    centre = widget.children[0].value
    assert matplotlib.image.imread(io.BytesIO(centre)).ndim == 3
    z.value = 15  # through the bright block's axial slice
    assert widget.children[0].value != centre
    with pytest.raises(ValueError, match="3D"):
        planes_widget(np.zeros((4, 4)))
