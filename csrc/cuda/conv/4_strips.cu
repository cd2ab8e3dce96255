// Convolution CUDA rung 4 (conv_cuda_strips): register-blocked vertical strips, vector loads.
// Changed from rung 3: no shared memory. Each thread owns a strip of 4 columns and ROWS
// rows of outputs. It loads each of the strip's ROWS + 2 input rows once, as one 4-wide
// vector plus the two values to its right, all before using any (so that they are in
// flight together), and keeps them in registers, so that each loaded row serves the three
// output rows that use it. Outputs are written as 4-wide vectors.
// Hypothesis: rungs 1-3 issue 1-9 scalar loads per output; here about (ROWS + 2) / ROWS
// vector loads per four outputs, so the load pipes stop being the limit and the kernel
// runs at the memory bandwidth: 2 S bytes per output (x read once, y written once).
// Expect: 70-90% of the device-to-device copy bandwidth at large N.
template <typename T>
struct Filter3x3 {
    T w00, w01, w02, w10, w11, w12, w20, w21, w22;
};

// Four consecutive values as 16-byte loads and stores: one float4, or two double2.
__device__ __forceinline__ void load4(const float *p, float *v)
{
    const float4 a = *reinterpret_cast<const float4 *>(p);
    v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w;
}
__device__ __forceinline__ void load4(const double *p, double *v)
{
    const double2 a = *reinterpret_cast<const double2 *>(p),
                  b = *reinterpret_cast<const double2 *>(p + 2);
    v[0] = a.x; v[1] = a.y; v[2] = b.x; v[3] = b.y;
}
__device__ __forceinline__ void store4(float *p, const float *v)
{
    *reinterpret_cast<float4 *>(p) = make_float4(v[0], v[1], v[2], v[3]);
}
__device__ __forceinline__ void store4(double *p, const double *v)
{
    *reinterpret_cast<double2 *>(p) = make_double2(v[0], v[1]);
    *reinterpret_cast<double2 *>(p + 2) = make_double2(v[2], v[3]);
}


// x[row][j .. j + 5] into v[0..5]: a 16-byte-aligned 4-wide load and two scalars where the
// row allows it, element by element (and zero past the edge) otherwise.
template <typename T>
__device__ __forceinline__ void load_row(const T *__restrict__ row, int j, int W, bool vector,
                                         T v[6])
{
    if (vector && j + 6 <= W) {
        load4(row + j, v);
        v[4] = row[j + 4];
        v[5] = row[j + 5];
    } else {
        for (int e = 0; e < 6; e++)
            v[e] = j + e < W ? row[j + e] : T(0);
    }
}

// Four outputs y[0..3] of one row from its three input rows a, b, c (6 values each); `room`
// is how many of the four lie inside the row.
template <typename T>
__device__ __forceinline__ void store_outputs(const Filter3x3<T> &f, const T *a, const T *b,
                                              const T *c, T *dst, int room, bool vector)
{
    T out[4];
#pragma unroll
    for (int e = 0; e < 4; e++)
        out[e] = f.w00 * a[e] + f.w01 * a[e + 1] + f.w02 * a[e + 2] +
                 f.w10 * b[e] + f.w11 * b[e + 1] + f.w12 * b[e + 2] +
                 f.w20 * c[e] + f.w21 * c[e + 1] + f.w22 * c[e + 2];
    if (vector && room >= 4) {
        store4(dst, out);
    } else {
        for (int e = 0; e < 4 && e < room; e++)
            dst[e] = out[e];
    }
}

// ROWS, the strip's height, is a template argument: the launcher (cuda_conv.py) takes 16 for
// float32 and 2 for float64, the best of 2-16 on the H200 (reference/h200/conv_strips_tuning.txt).
template <typename T, int ROWS>
__global__ void conv_strips(int H, int W, const T *__restrict__ x, Filter3x3<T> f,
                            T *__restrict__ y, int aligned)
{
    const int Ho = H - 2, Wo = W - 2;
    const int j = 4 * (blockIdx.x * blockDim.x + threadIdx.x);
    const int i0 = ROWS * (blockIdx.y * blockDim.y + threadIdx.y);
    if (j >= Wo || i0 >= Ho)
        return;
    // rows are W long: 4-wide loads need W % 4 == 0 (and x aligned, checked by the host)
    const bool vector_in = aligned && W % 4 == 0;
    const bool vector_out = aligned && Wo % 4 == 0;
    if (i0 + ROWS <= Ho) {
        // A whole strip: all ROWS + 2 input rows are loaded first, so that their loads are
        // in flight together (memory-level parallelism), then the ROWS outputs are formed.
        T r[ROWS + 2][6];
#pragma unroll
        for (int t = 0; t < ROWS + 2; t++)
            load_row(x + (size_t)(i0 + t) * W, j, W, vector_in, r[t]);
#pragma unroll
        for (int k = 0; k < ROWS; k++)
            store_outputs(f, r[k], r[k + 1], r[k + 2], y + (size_t)(i0 + k) * Wo + j, Wo - j,
                          vector_out);
        return;
    }
    // The last, shorter strip of the image: a sliding window of three rows.
    T a[6], b[6], c[6];
    load_row(x + (size_t)i0 * W, j, W, vector_in, a);
    load_row(x + (size_t)(i0 + 1) * W, j, W, vector_in, b);
    for (int i = i0; i < Ho; i++) {
        load_row(x + (size_t)(i + 2) * W, j, W, vector_in, c);
        store_outputs(f, a, b, c, y + (size_t)i * Wo + j, Wo - j, vector_out);
#pragma unroll
        for (int e = 0; e < 6; e++) {
            a[e] = b[e];
            b[e] = c[e];
        }
    }
}
