// Convolution CUDA rung 2 (conv_cuda_const): the nine weights as kernel parameters.
// Changed from rung 1: the filter travels with the launch, by value. Kernel parameters live
// in the constant bank, read through the constant cache, which broadcasts a value to all
// threads of a warp in one transaction; the compiler uses them as operands of the FMAs
// directly, so the nine weight loads per output are gone and the product is unrolled.
// Hypothesis: rung 1 spent half its loads on the weights; what is left is the inputs.
// Expect: 1.2-1.5x rung 1.
template <typename T>
struct Filter3x3 {
    T w00, w01, w02, w10, w11, w12, w20, w21, w22;
};

template <typename T>
__global__ void conv_const(int H, int W, const T *__restrict__ x, Filter3x3<T> f,
                           T *__restrict__ y)
{
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    const int i = blockIdx.y * blockDim.y + threadIdx.y;
    const int Ho = H - 2, Wo = W - 2;
    if (i >= Ho || j >= Wo)
        return;
    const T *r0 = x + (size_t)i * W + j, *r1 = r0 + W, *r2 = r1 + W;
    y[(size_t)i * Wo + j] = f.w00 * r0[0] + f.w01 * r0[1] + f.w02 * r0[2] +
                            f.w10 * r1[0] + f.w11 * r1[1] + f.w12 * r1[2] +
                            f.w20 * r2[0] + f.w21 * r2[1] + f.w22 * r2[2];
}
