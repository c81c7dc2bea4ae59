"""A small offscreen renderer for the reconstruction benchmark (moderngl on EGL).

Renders a mesh through a pinhole camera given as OpenCV's K, R, t
(x_cam = R x_world + t, pixels down and right), either with its texture atlas or
with a procedural solid texture (3D value noise of the world position, Lambert
shaded from a fixed light), and returns the colour image and the mask of the
pixels the mesh covers. Only the benchmark uses it: to render a reconstructed
model from a photo's ground-truth camera, and to make synthetic photos of a real
scan from known cameras.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_VERT = """
#version 330
uniform mat4 proj;
uniform mat4 view;
in vec3 in_pos;
in vec3 in_normal;
in vec2 in_uv;
out vec3 v_world;
out vec3 v_normal;
out vec2 v_uv;
void main() {
    v_world = in_pos;
    v_normal = in_normal;
    v_uv = in_uv;
    gl_Position = proj * view * vec4(in_pos, 1.0);
}
"""

_FRAG = """
#version 330
uniform int mode;            // 0: texture, 1: procedural solid texture
uniform sampler2D tex;
uniform float freq;
uniform vec3 light;
in vec3 v_world;
in vec3 v_normal;
in vec2 v_uv;
out vec4 color;
float hash(vec3 p) {
    p = fract(p * 0.3183099 + 0.1);
    p *= 17.0;
    return fract(p.x * p.y * p.z * (p.x + p.y + p.z));
}
float noise(vec3 x) {
    vec3 i = floor(x);
    vec3 f = fract(x);
    f = f * f * (3.0 - 2.0 * f);
    return mix(mix(mix(hash(i + vec3(0, 0, 0)), hash(i + vec3(1, 0, 0)), f.x),
                   mix(hash(i + vec3(0, 1, 0)), hash(i + vec3(1, 1, 0)), f.x), f.y),
               mix(mix(hash(i + vec3(0, 0, 1)), hash(i + vec3(1, 0, 1)), f.x),
                   mix(hash(i + vec3(0, 1, 1)), hash(i + vec3(1, 1, 1)), f.x), f.y), f.z);
}
void main() {
    if (mode == 0) {
        color = vec4(texture(tex, v_uv).rgb, 1.0);
        return;
    }
    vec3 p = v_world * freq;
    float n = 0.5 * noise(p) + 0.3 * noise(p * 2.7) + 0.2 * noise(p * 7.3);
    float k = clamp(1.6 * n - 0.3, 0.0, 1.0);
    vec3 albedo = mix(vec3(0.15, 0.12, 0.10), vec3(1.0, 0.92, 0.80), k);
    float shade = 0.55 + 0.45 * abs(dot(normalize(v_normal), normalize(light)));
    color = vec4(albedo * shade, 1.0);
}
"""


def projection(K: np.ndarray, width: int, height: int, near: float, far: float) -> np.ndarray:
    """OpenGL clip matrix for OpenCV intrinsics (pixel centres at integer + 0.5)."""
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    P = np.zeros((4, 4))
    P[0, 0] = 2 * fx / width
    P[0, 2] = 2 * (cx + 0.5) / width - 1
    P[1, 1] = -2 * fy / height
    P[1, 2] = 1 - 2 * (cy + 0.5) / height
    P[2, 2] = (far + near) / (far - near)
    P[2, 3] = -2 * far * near / (far - near)
    P[3, 2] = 1.0
    return P


class Renderer:
    """One EGL context and framebuffer of a fixed size; render many views."""

    def __init__(self, width: int, height: int) -> None:
        import moderngl

        self.width, self.height = width, height
        self.ctx = moderngl.create_standalone_context(backend="egl")  # type: ignore[arg-type]
        self.fbo = self.ctx.simple_framebuffer((width, height), components=4)
        self.prog = self.ctx.program(vertex_shader=_VERT, fragment_shader=_FRAG)
        self._vao: Any = None
        self._texture: Any = None

    def set_mesh(
        self,
        vertices: np.ndarray,
        faces: np.ndarray,
        normals: np.ndarray | None = None,
        uv: np.ndarray | None = None,
        texture: np.ndarray | None = None,
    ) -> None:
        """The mesh to draw (un-indexed on the GPU side: one vertex per corner)."""
        import moderngl

        corners = np.asarray(faces).reshape(-1)
        pos = np.asarray(vertices, "f4")[corners]
        nrm = np.asarray(normals, "f4")[corners] if normals is not None else np.zeros_like(pos)
        tex_uv = np.asarray(uv, "f4")[corners] if uv is not None else np.zeros((len(pos), 2), "f4")
        data = np.hstack([pos, nrm, tex_uv]).astype("f4")
        vbo = self.ctx.buffer(data.tobytes())
        self._vao = self.ctx.vertex_array(
            self.prog, [(vbo, "3f 3f 2f", "in_pos", "in_normal", "in_uv")]
        )
        if texture is not None:
            img = np.ascontiguousarray(np.flipud(texture[..., :3]).astype(np.uint8))
            self._texture = self.ctx.texture((img.shape[1], img.shape[0]), 3, img.tobytes())
            self._texture.build_mipmaps()
            self._texture.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)

    def render(
        self,
        K: np.ndarray,
        R: np.ndarray,
        t: np.ndarray,
        *,
        procedural: bool = False,
        freq: float = 1.0,
        light: tuple[float, float, float] = (0.3, 1.0, 0.5),
        near: float = 0.01,
        far: float = 1000.0,
        background: tuple[float, float, float] = (0.5, 0.5, 0.5),
    ) -> tuple[np.ndarray, np.ndarray]:
        """(H, W, 3) uint8 colours and (H, W) bool coverage, rows top to bottom."""
        import moderngl

        view = np.eye(4)
        view[:3, :3], view[:3, 3] = R, np.asarray(t).reshape(3)
        self.fbo.use()
        self.fbo.clear(*background, 0.0)
        self.ctx.enable(moderngl.DEPTH_TEST)
        self.prog["proj"].write(
            projection(K, self.width, self.height, near, far).T.astype("f4").tobytes()
        )
        self.prog["view"].write(view.T.astype("f4").tobytes())
        self.prog["mode"].value = 1 if procedural else 0
        if "freq" in self.prog:
            self.prog["freq"].value = freq
        if "light" in self.prog:
            self.prog["light"].value = light
        if self._texture is not None and not procedural:
            self._texture.use(0)
            self.prog["tex"].value = 0
        self._vao.render(moderngl.TRIANGLES)
        raw = np.frombuffer(self.fbo.read(components=4), np.uint8)
        rgba = np.flipud(raw.reshape(self.height, self.width, 4))
        return rgba[..., :3].copy(), rgba[..., 3] > 0


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Peak signal-to-noise ratio (dB) over the masked pixels of two uint8 images."""
    diff = a[mask].astype(np.float64) - b[mask].astype(np.float64)
    mse = float(np.mean(diff**2)) if diff.size else 0.0
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Mean SSIM (Wang et al. 2004, Gaussian window σ=1.5) of the grey images over the mask."""
    import cv2

    def grey(x: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(np.float64)

    x, y = grey(a), grey(b)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(z: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(z, (11, 11), 1.5)

    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
    inner = cv2.erode(mask.astype(np.uint8), np.ones((11, 11), np.uint8)).astype(bool)
    return float(s[inner].mean()) if inner.any() else 0.0
