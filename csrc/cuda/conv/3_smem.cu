// Convolution CUDA rung 3 (conv_cuda_smem): a shared-memory tile with its halo.
// Changed from rung 2: a block of 32 x 8 threads first copies the (8 + 2) x (32 + 2) inputs
// its outputs need into shared memory, every input once (the halo is the two extra rows and
// columns), then each thread reads its nine inputs from there.
// Hypothesis: each input is loaded from global memory (L2) once per block instead of up to
// nine times through L1, and shared-memory loads are cheaper than L1 hits.
// Expect: at most a modest gain: rung 2's L1 already caught most of the reuse, and the
// __syncthreads and halo loads cost time.
template <typename T>
struct Filter3x3 {
    T w00, w01, w02, w10, w11, w12, w20, w21, w22;
};

#define TILE_X 32
#define TILE_Y 8

template <typename T>
__global__ void conv_smem(int H, int W, const T *__restrict__ x, Filter3x3<T> f,
                          T *__restrict__ y)
{
    __shared__ T tile[TILE_Y + 2][TILE_X + 2];
    const int j0 = blockIdx.x * TILE_X, i0 = blockIdx.y * TILE_Y;
    const int tid = threadIdx.y * TILE_X + threadIdx.x;
    for (int e = tid; e < (TILE_Y + 2) * (TILE_X + 2); e += TILE_X * TILE_Y) {
        const int r = e / (TILE_X + 2), c = e % (TILE_X + 2);
        const int gi = i0 + r, gj = j0 + c;
        tile[r][c] = gi < H && gj < W ? x[(size_t)gi * W + gj] : T(0);
    }
    __syncthreads();
    const int Ho = H - 2, Wo = W - 2;
    const int i = i0 + threadIdx.y, j = j0 + threadIdx.x;
    if (i >= Ho || j >= Wo)
        return;
    const int r = threadIdx.y, c = threadIdx.x;
    y[(size_t)i * Wo + j] = f.w00 * tile[r][c] + f.w01 * tile[r][c + 1] + f.w02 * tile[r][c + 2] +
                            f.w10 * tile[r + 1][c] + f.w11 * tile[r + 1][c + 1] +
                            f.w12 * tile[r + 1][c + 2] + f.w20 * tile[r + 2][c] +
                            f.w21 * tile[r + 2][c + 1] + f.w22 * tile[r + 2][c + 2];
}
