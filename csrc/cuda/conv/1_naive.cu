// Convolution CUDA rung 1 (conv_cuda_naive): one thread per output, the filter read from
// global memory. 'valid' cross-correlation: y[i][j] = sum_{p,q<3} x[i+p][j+q] * w[p][q].
// A warp covers 32 consecutive outputs of a row, so its loads of x and stores of y are
// coalesced; every thread still loads the nine weights and nine inputs itself, and the
// inputs it shares with its neighbours come from L1/L2, not from registers or shared memory.
// Hypothesis: the caches absorb the 9x reuse of each input, so even this rung streams x and
// y near the memory bandwidth at large N, limited by its 18 loads per output.
// Expect: 30-60% of the device-to-device copy bandwidth.
template <typename T>
__global__ void conv_naive(int H, int W, const T *__restrict__ x, const T *__restrict__ w,
                           T *__restrict__ y)
{
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    const int i = blockIdx.y * blockDim.y + threadIdx.y;
    const int Ho = H - 2, Wo = W - 2;
    if (i >= Ho || j >= Wo)
        return;
    T sum = 0;
    for (int p = 0; p < 3; p++)
        for (int q = 0; q < 3; q++)
            sum += x[(size_t)(i + p) * W + j + q] * w[3 * p + q];
    y[(size_t)i * Wo + j] = sum;
}
