/* optimizer.h — facenet's five optimizers with TensorFlow's update rules and facenet's
 * hyper-parameters (facenet.py train()), learning-rate schedules, and the exponential
 * moving average of the weights. All work on flat float vectors. */
#ifndef FN_TRAIN_OPTIMIZER_H
#define FN_TRAIN_OPTIMIZER_H
#include "core.h"

typedef enum {
    FN_OPT_ADAGRAD = 0,  /* accumulator starts at 0.1 (tf.train.AdagradOptimizer) */
    FN_OPT_ADADELTA,     /* rho 0.9, epsilon 1e-6 */
    FN_OPT_ADAM,         /* beta1 0.9, beta2 0.999, epsilon 0.1 */
    FN_OPT_RMSPROP,      /* decay 0.9, momentum 0.9, epsilon 1.0; mean square starts at 1 */
    FN_OPT_MOM,          /* momentum 0.9, Nesterov */
} fn_optimizer_kind;

typedef struct {
    fn_optimizer_kind kind;
    size_t n;
    float *s1, *s2;     /* slots (see optimizer.c) */
    int64_t t;          /* steps taken (Adam's bias correction) */
} fn_optimizer;

int fn_optimizer_parse(const char *name); /* "ADAGRAD" ... -> kind, -1 if unknown */
const char *fn_optimizer_name(fn_optimizer_kind k);
fn_status fn_optimizer_init(fn_optimizer *o, fn_optimizer_kind kind, size_t n);
void fn_optimizer_free(fn_optimizer *o);
/* w -= update(g, lr) */
void fn_optimizer_step(fn_optimizer *o, float *w, const float *g, float lr);

/* tf.train.exponential_decay(staircase=True): lr * factor^floor(step / decay_steps);
 * decay_steps <= 0 keeps lr. */
float fn_lr_exponential(float lr, int64_t step, int64_t decay_steps, float factor);
/* facenet's get_learning_rate_from_file: lines "epoch: lr" ('#' comments, '-' = -1);
 * the value of the last line whose epoch <= epoch. A negative result means stop. */
fn_status fn_lr_from_file(const char *path, int epoch, float *lr);

/* tf.train.ExponentialMovingAverage(decay, num_updates = step):
 * d = min(decay, (1 + step) / (10 + step)); shadow -= (1 - d) (shadow - w). */
void fn_ema_update(float *shadow, const float *w, size_t n, float decay, int64_t step);
#endif
