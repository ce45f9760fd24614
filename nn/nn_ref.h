// nn_ref.h — naive references of nn.h's fast kernels: plain loops, double
// accumulators, no BLAS, no threads. Kept for the tests, which hold every
// fast kernel to its reference on random shapes. Same argument order and
// semantics as the kernel of the same name without "_ref" (backward adds
// into gradients, NULL gradients are skipped).
#ifndef CPCRL_NN_REF_H
#define CPCRL_NN_REF_H

void nn_ref_sgemm(int transA, int transB, int M, int N, int K, float alpha,
                  const float *A, int lda, const float *B, int ldb, float beta,
                  float *C, int ldc);
void nn_ref_linear_forward(float *out, const float *inp, const float *w, const float *b,
                           int N, int I, int O);
void nn_ref_linear_backward(float *dinp, float *dw, float *db, const float *dout,
                            const float *inp, const float *w, int N, int I, int O);
void nn_ref_conv2d_forward(float *out, const float *inp, const float *w, const float *b,
                           int N, int Ci, int H, int W, int Co, int K, int S, int P);
void nn_ref_conv2d_backward(float *dinp, float *dw, float *db, const float *dout,
                            const float *inp, const float *w,
                            int N, int Ci, int H, int W, int Co, int K, int S, int P);
void nn_ref_lstm_forward(float *h, float *c, float *gates, const float *x,
                         const float *h_prev, const float *c_prev,
                         const float *w_ih, const float *w_hh, const float *b_ih,
                         const float *b_hh, int N, int I, int H);
void nn_ref_lstm_backward(float *dx, float *dh_prev, float *dc_prev, float *dw_ih,
                          float *dw_hh, float *db_ih, float *db_hh, const float *dh,
                          const float *dc, const float *gates, const float *c,
                          const float *c_prev, const float *x, const float *h_prev,
                          const float *w_ih, const float *w_hh, float *dgates,
                          int N, int I, int H);
// The batched BPTT pair (nn_lstm_backward_step, nn_lstm_backward_weights).
void nn_ref_lstm_backward_step(float *dgates, float *dh_prev, float *dc_prev, const float *dh,
                               const float *dc, const float *mask, const float *gates,
                               const float *c, const float *c_prev, const float *w_hh, int N,
                               int H);
void nn_ref_lstm_backward_weights(float *dx, float *dw_ih, float *dw_hh, float *db_ih,
                                  float *db_hh, const float *dgates, const float *x,
                                  const float *h_prev, const float *w_ih, int N, int I, int H,
                                  int Ix);

#endif
