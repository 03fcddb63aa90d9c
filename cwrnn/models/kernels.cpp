// CPU kernels of the scans (see kernels.py): the CW-RNN (and so the SRN) and the peephole LSTM, forward
// and hand-written backward through time, for many small networks at once.
//
// Why C++: at the lab's sizes (tens of units, hundreds of stacked networks, batch 1) a torch op per step
// costs a fixed ~0.1 us per network whatever its size (batched matmuls of tiny matrices), so the
// CW-RNN, which updates about a quarter of its units per step, trained slower than its SRN. Here the
// CW-RNN's members advance eight at a time through all their steps, one member per vector lane ("Across
// members" below): a step costs its active rows' multiply-adds and nothing per held unit but its copy into
// the states. The LSTM's networks run one after another, vectors across their units, each through all its
// steps with its weights in the L1 cache.
//
// States are member-major, (R, B, T, n), so that each network's steps are contiguous (time-major, the
// torch path's layout, made every step of a network a cache miss); weights are (R, rows, n), row = target
// unit. `drive` is the input term W_I x_t + b, addressed through strides so that a network without input
// passes its bias with time and batch strides 0.
// The maths, step by step, is the torch path's; the tests hold both to the same references.

// glibc's libmvec has vector versions of these; declared SIMD, the loops below call them 8 units at a time
// (without it a scalar tanhf per unit would cost more than the multiply-adds).
#ifdef CWRNN_LIBMVEC
extern "C" float tanhf(float) noexcept __attribute__((__simd__("notinbranch")));
extern "C" float expf(float) noexcept __attribute__((__simd__("notinbranch")));
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

using i64 = int64_t;

namespace {

constexpr i64 LANES = 8;  // activations run over whole vectors: scratch buffers are padded to this

i64 padded(i64 k) { return (k + LANES - 1) / LANES * LANES; }

inline float tanh_(float x) { return tanhf(x); }
inline double tanh_(double x) { return std::tanh(x); }
inline float sigmoid_(float x) { return 1.0f / (1.0f + expf(-x)); }
inline double sigmoid_(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// In place over a padded buffer, in fixed groups of LANES so that no scalar remainder loop runs.
template <typename T>
void tanh_all(T* x, i64 len) {
  for (i64 c = 0; c < len; c += LANES) {
#pragma omp simd
    for (i64 l = 0; l < LANES; l++) x[c + l] = tanh_(x[c + l]);
  }
}

template <typename T>
void sigmoid_all(T* x, i64 len) {
  for (i64 c = 0; c < len; c += LANES) {
#pragma omp simd
    for (i64 l = 0; l < LANES; l++) x[c + l] = sigmoid_(x[c + l]);
  }
}

// Vectors and weight rows here are padded with zeros to whole LANES, so no loop has a scalar remainder.

// y[0:cols] = sum_{i < rows} x[i] M[i, 0:cols] (with Add, y[0:cols] += that sum), M row-major with leading
// dimension ld; cols a multiple of LANES. The forward's matrix-vector products take this form with the
// transposed weights: a dot product per row would end every row with a horizontal sum of a vector
// register, which at these widths costs more than its multiply-adds. CHAINS partial sums per vector of
// y keep the multiply-adds from waiting on each other. Any number of rows: the backward's products run
// over a step's active rows only (a CW-RNN's fastest module has about five).
constexpr i64 CHAINS = 4;

template <bool Add = false, typename T>
void combine(T* y, const T* M, i64 ld, const T* x, i64 rows, i64 cols) {
  const i64 whole = rows / CHAINS * CHAINS;
  for (i64 c = 0; c < cols; c += LANES) {
    T acc[CHAINS][LANES] = {};
    for (i64 i = 0; i < whole; i += CHAINS)
      for (i64 s = 0; s < CHAINS; s++) {
#pragma omp simd
        for (i64 l = 0; l < LANES; l++) acc[s][l] += x[i + s] * M[(i + s) * ld + c + l];
      }
    for (i64 i = whole; i < rows; i++) {
#pragma omp simd
      for (i64 l = 0; l < LANES; l++) acc[i - whole][l] += x[i] * M[i * ld + c + l];
    }
#pragma omp simd
    for (i64 l = 0; l < LANES; l++) {
      const T sum = (acc[0][l] + acc[1][l]) + (acc[2][l] + acc[3][l]);
      y[c + l] = Add ? y[c + l] + sum : sum;
    }
  }
}

template <typename T>
void axpy(T* y, T a, const T* x, i64 len) {
  for (i64 c = 0; c < len; c += LANES) {
#pragma omp simd
    for (i64 l = 0; l < LANES; l++) y[c + l] += a * x[c + l];
  }
}

// One network's (rows, cols) weights, zero-padded to (rows_to, cols_to), transposed when asked.
template <typename T>
void pad(std::vector<T>& to, const T* from, i64 rows, i64 cols, i64 rows_to, i64 cols_to, bool transpose) {
  if (transpose) {
    to.assign(cols_to * rows_to, 0);
    for (i64 i = 0; i < rows; i++)
      for (i64 j = 0; j < cols; j++) to[j * rows_to + i] = from[i * cols + j];
  } else {
    to.assign(rows_to * cols_to, 0);
    for (i64 i = 0; i < rows; i++) std::memcpy(to.data() + i * cols_to, from + i * cols, cols * sizeof(T));
  }
}

template <typename T>
void unpad(T* to, const std::vector<T>& from, i64 rows, i64 cols, i64 cols_from) {
  for (i64 i = 0; i < rows; i++) std::memcpy(to + i * cols, from.data() + i * cols_from, cols * sizeof(T));
}

struct Drive {
  i64 r, b, t;  // strides in elements
};

// ---- the readout y_t = W_O h_t + b_O, computed inside the scans -------------------------------------------
// W_O (R, O, n), b_O (R, O), y (R, B, T, O); null W_O: no readout. (Reading the states again afterwards,
// in torch, cost a quarter of a training step at the lab's sizes.) Every step reads the whole state, held
// modules included: per module at the module's rate (a module's contribution recomputed at its ticks, dy
// summed per module and passed on at its ticks) cost more than it saved in the per-network kernels, whose
// vectors spanned units. This one serves the LSTM's per-network kernels. The CW-RNN's lanes compute the
// whole readout every step (under 2 % of their forward) and pass its gradient on per module at the
// module's ticks (cw_backward).

// sum_j a[j] b[j] over padded vectors, in a fixed order.
template <typename T>
T dot(const T* a, const T* b, i64 len) {
  static_assert(LANES == 8, "the closing sum adds eight lanes");
  T acc[LANES] = {};
  for (i64 c = 0; c < len; c += LANES) {
#pragma omp simd
    for (i64 l = 0; l < LANES; l++) acc[l] += a[c + l] * b[c + l];
  }
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

// y[0:len] += a x[0:len] for unpadded vectors.
template <typename T>
void axpy_n(T* y, T a, const T* x, i64 len) {
#pragma omp simd
  for (i64 j = 0; j < len; j++) y[j] += a * x[j];
}

template <typename T>
struct Readout {
  const T *W_all, *b_all, *b = nullptr;  // all networks'; the current one's bias
  i64 O, n, np;
  std::vector<T> W, dW;  // the current network's W_O, padded to (O, np), and the sum of its gradient

  Readout(const T* W_, const T* b_, i64 O_, i64 n_) : W_all(W_), b_all(b_), O(O_), n(n_), np(padded(n_)) {}
  bool on() const { return W_all != nullptr; }
  void network(i64 r) {  // network r's weights, and no gradient yet
    pad(W, W_all + r * O * n, O, n, O, np, false);
    b = b_all ? b_all + r * O : nullptr;
    dW.assign(O * np, 0);
  }
  void emit(const T* h, T* y) const {  // h padded with zeros
    for (i64 o = 0; o < O; o++) y[o] = b[o] + dot(W.data() + o * np, h, np);
  }
  // Backward at step t: dy, y_t's gradient, into h_t's (dh) and into the sums of the weights' (network r's
  // dW_O is written by done, after its last member).
  void back(const T* dy, const T* h, T* dh, T* db) {
    for (i64 o = 0; o < O; o++) {
      db[o] += dy[o];
      axpy(dh, dy[o], W.data() + o * np, np);
      axpy(dW.data() + o * np, dy[o], h, np);
    }
  }
  void done(T* dW_O) const { unpad(dW_O, dW, O, n, np); }
};

// ---- CW-RNN: h_t[rows] = tanh(W[rows] h_{t-1} + drive_t[rows]); the other units hold h_{t-1} ----------
// Module m is units bounds[m] .. bounds[m + 1] and reads units reads[2m] .. reads[2m + 1] (its connectivity:
// the paper's modules read themselves and the slower ones, the rest of W's row being zero); step t's active
// modules are mods[starts[t] : starts[t + 1]], ascending, and every module is active at step 0. A step
// computes exactly its active modules' rows, each over the units its module reads.
//
// Across members: every member of a stack (network r, sequence b: member r B + b) runs on the same clock,
// so GROUP members advance in lock-step, lane l of every vector holding the group's member l. A step then
// costs, per member, its active rows' multiply-adds and the store of its state: a module of 5 units is not
// padded to a vector (vectors across units were, and their activations and readout sums cost more than the
// multiply-adds at the lab's sizes), activations run over whole vectors, and the schedule's bookkeeping is
// paid once per group. No arithmetic crosses lanes, so a member's results do not depend on which members
// share its group (lanes past the last member compute zeros); sums over a network's members (its weights'
// gradients) are taken per member and then added in member order. A group with fewer members costs as
// much as a full one: a lone network runs 2-4x slower than vectors across its units ran it, but keeping
// those kernels for small stacks would make a network's last bits depend on how many share its call.

struct Schedule {
  const int32_t* mods;
  const i64 *starts, *bounds, *reads;
  i64 modules;
  i64 count(i64 t) const { return starts[t + 1] - starts[t]; }
  const int32_t* active(i64 t) const { return mods + starts[t]; }
  i64 reach(i64 t) const { return count(t) ? bounds[active(t)[count(t) - 1] + 1] : 0; }  // past the last active row
  i64 units(i64 t) const {  // how many units step t updates
    i64 u = 0;
    for (i64 a = 0; a < count(t); a++) u += bounds[active(t)[a] + 1] - bounds[active(t)[a]];
    return u;
  }
  i64 updates(i64 steps) const {  // units updated over all steps
    i64 u = 0;
    for (i64 t = 0; t < steps; t++) u += units(t);
    return u;
  }
};

constexpr i64 GROUP = 8;
template <typename T>
struct Lane {
  typedef T vec __attribute__((vector_size(GROUP * sizeof(T))));
  typedef std::conditional_t<sizeof(T) == 4, int32_t, int64_t> index;
  typedef index indices __attribute__((vector_size(GROUP * sizeof(T))));  // a shuffle's, for vec
};
template <typename T>
using vec = typename Lane<T>::vec;

// The members of one group: lane l holds member first + l, network r[l], sequence b[l], for l < count.
struct Lanes {
  i64 count, r[GROUP], b[GROUP];
  Lanes(i64 first, i64 members, i64 B) : count(std::min(GROUP, members - first)) {
    for (i64 l = 0; l < count; l++) r[l] = (first + l) / B, b[l] = (first + l) % B;
  }
  // Each lane's row of an array addressed by network and sequence strides; null for padding lanes.
  template <typename P>
  void rows(P** to, P* base, i64 per_network, i64 per_sequence, i64 offset) const {
    for (i64 l = 0; l < GROUP; l++) to[l] = l < count ? base + r[l] * per_network + b[l] * per_sequence + offset : nullptr;
  }
};

// An 8 x 8 block transposed in place: x[j] lane l <-> x[l] lane j. Three rounds in which rows i and i + s
// swap their off-diagonal s x s blocks (24 two-vector shuffles; element by element it cost several times
// more, and members' rows are read and written every step).
template <typename T>
void transpose(vec<T>* x) {
  static_assert(GROUP == 8, "the shuffles are written for 8 lanes");
  using I = typename Lane<T>::indices;
  const I keep[3] = {{0, 1, 2, 3, 8, 9, 10, 11}, {0, 1, 8, 9, 4, 5, 12, 13}, {0, 8, 2, 10, 4, 12, 6, 14}};
  const I take[3] = {{4, 5, 6, 7, 12, 13, 14, 15}, {2, 3, 10, 11, 6, 7, 14, 15}, {1, 9, 3, 11, 5, 13, 7, 15}};
  for (int round = 0, s = 4; round < 3; round++, s /= 2)
    for (int i = 0; i < GROUP; i++)
      if (!(i & s)) {
        const vec<T> a = x[i], b = x[i + s];
        x[i] = __builtin_shuffle(a, b, keep[round]);
        x[i + s] = __builtin_shuffle(a, b, take[round]);
      }
}

// x[j] lane l = row l's element j, for j < len; zero for padding lanes (null rows).
template <typename T>
void gather(vec<T>* x, const T* const* from, i64 len) {
  i64 j = 0;
  for (; j + GROUP <= len; j += GROUP) {
    for (i64 l = 0; l < GROUP; l++) {
      x[j + l] = vec<T>{};
      if (from[l]) std::memcpy(&x[j + l], from[l] + j, sizeof(vec<T>));
    }
    transpose<T>(x + j);
  }
  for (; j < len; j++)
    for (i64 l = 0; l < GROUP; l++) x[j][l] = from[l] ? from[l][j] : T(0);
}

// Row l's element j = x[j] lane l, for j < len; padding lanes are not written.
template <typename T>
void scatter(T* const* to, const vec<T>* x, i64 len) {
  i64 j = 0;
  for (; j + GROUP <= len; j += GROUP) {
    vec<T> block[GROUP];
    std::copy(x + j, x + j + GROUP, block);
    transpose<T>(block);
    for (i64 l = 0; l < GROUP; l++)
      if (to[l]) std::memcpy(to[l] + j, &block[l], sizeof(vec<T>));
  }
  for (; j < len; j++)
    for (i64 l = 0; l < GROUP; l++)
      if (to[l]) to[l][j] = x[j][l];
}

// y[q] = sum_{k < len} A[q sq + k sk] v[k] for q < Q (with Add, y[q] + that sum), each y[q] in C partial
// sums over k, so that Q C multiply-add chains run side by side; the sums close in a fixed tree.
template <int Q, int C, bool Add, typename V>
void sums_of(V* y, const V* A, i64 sq, i64 sk, const V* v, i64 len) {
  V acc[Q][C] = {};
  if (Add)
    for (int q = 0; q < Q; q++) acc[q][0] = y[q];
  i64 k = 0;
  for (; k + C <= len; k += C)
    for (int q = 0; q < Q; q++)
      for (int c = 0; c < C; c++) acc[q][c] += A[q * sq + (k + c) * sk] * v[k + c];
  for (int c = 0; k < len; k++, c++)
    for (int q = 0; q < Q; q++) acc[q][c] += A[q * sq + k * sk] * v[k];
  for (int q = 0; q < Q; q++) {
    for (int w = C / 2; w; w /= 2)
      for (int c = 0; c < w; c++) acc[q][c] += acc[q][c + w];
    y[q] = acc[q][0];
  }
}

// sums_of for any count of outputs. Long sums (a row over the units its module reads): six outputs at a
// time, two chains each, the last few with more chains each. Short ones (W^T g over a module's few rows):
// eight outputs at a time, one chain each, since closing partial sums would cost as much as the sums.
template <bool Add = false, typename V>
void sums(V* y, const V* A, i64 sq, i64 sk, const V* v, i64 len, i64 outputs) {
  using Block = void (*)(V*, const V*, i64, i64, const V*, i64);
  const bool short_sums = len <= 8;
  const i64 width = short_sums ? 8 : 6;
  i64 q = 0;
  for (; q + width <= outputs; q += width)
    (short_sums ? sums_of<8, 1, Add, V> : sums_of<6, 2, Add, V>)(y + q, A + q * sq, sq, sk, v, len);
  static constexpr Block rest_short[] = {nullptr,           sums_of<1, 1, Add, V>, sums_of<2, 1, Add, V>,
                                         sums_of<3, 1, Add, V>, sums_of<4, 1, Add, V>, sums_of<5, 1, Add, V>,
                                         sums_of<6, 1, Add, V>, sums_of<7, 1, Add, V>};
  static constexpr Block rest_long[] = {nullptr, sums_of<1, 8, Add, V>, sums_of<2, 4, Add, V>,
                                        sums_of<3, 2, Add, V>, sums_of<4, 2, Add, V>, sums_of<5, 2, Add, V>};
  if (q < outputs) (short_sums ? rest_short : rest_long)[outputs - q](y + q, A + q * sq, sq, sk, v, len);
}

// The group's weights, lane l holding network r[l]'s (R, rows, cols) matrix; zero for padding lanes.
template <typename T>
void gather_weights(std::vector<vec<T>>& to, const T* from, i64 size, const Lanes& lanes) {
  const T* rows[GROUP];
  lanes.rows(rows, from, size, 0, 0);
  to.resize(size);
  gather(to.data(), rows, size);
}

// Adds each lane's sum into its network's (R, size) total, lanes in order (members in order, group after group).
template <typename T>
void add_to_networks(T* to, const std::vector<vec<T>>& from, i64 size, const Lanes& lanes) {
  for (i64 l = 0; l < lanes.count; l++) {
    T* net = to + lanes.r[l] * size;
    for (i64 k = 0; k < size; k++) net[k] += from[k][l];
  }
}

// The forward keeps, per group, a tape of what the backward needs to walk the states back: each step's
// active rows' values before the step (in the order of its modules and units), then the last state.
// It follows the clock (a step saves only its active rows) and needs no transposing, unlike the states.
template <typename T>
void cw_forward(i64 R, i64 B, i64 steps, i64 n, const T* W, const T* drive, Drive ds, const T* h0, Schedule s,
                T* out, vec<T>* tape, i64 O, const T* W_O, const T* b_O, T* y) {
  using V = vec<T>;
  std::vector<V> Wl, WO, bO, h(n), d(n), pre(n), yl(O);
  const T* rows[GROUP];
  T* to[GROUP];
  const i64 per_group = s.updates(steps) + n;  // the tape's length, in vectors
  for (i64 first = 0; first < R * B; first += GROUP) {
    const Lanes lanes(first, R * B, B);
    V* saved = tape + first / GROUP * per_group;
    gather_weights(Wl, W, n * n, lanes);
    if (W_O) gather_weights(WO, W_O, O * n, lanes), gather_weights(bO, b_O, O, lanes);
    lanes.rows(rows, h0, B * n, n, 0);
    gather(h.data(), rows, n);
    for (i64 t = 0; t < steps; t++) {
      const int32_t* act = s.active(t);
      const i64 k = s.count(t);
      if (t == 0 || ds.t) {  // a drive constant in time (a bias) is gathered once
        lanes.rows(rows, drive, ds.r, ds.b, t * ds.t);
        gather(d.data(), rows, ds.t ? s.reach(t) : n);
      }
      for (i64 a = 0; a < k; a++) {
        const i64 m = act[a], lo = s.bounds[m], hi = s.bounds[m + 1], from = s.reads[2 * m];
        sums(pre.data() + lo, Wl.data() + lo * n + from, n, 1, h.data() + from, s.reads[2 * m + 1] - from, hi - lo);
        for (i64 i = lo; i < hi; i++) pre[i] += d[i];
        tanh_all(reinterpret_cast<T*>(pre.data() + lo), (hi - lo) * GROUP);
      }
      for (i64 a = 0; a < k; a++)
        for (i64 i = s.bounds[act[a]]; i < s.bounds[act[a] + 1]; i++) *saved++ = h[i], h[i] = pre[i];
      lanes.rows(to, out, B * steps * n, steps * n, t * n);
      scatter(to, h.data(), n);
      if (W_O) {
        sums(yl.data(), WO.data(), n, 1, h.data(), n, O);
        for (i64 o = 0; o < O; o++) yl[o] += bO[o];
        lanes.rows(to, y, B * steps * O, steps * O, t * O);
        scatter(to, yl.data(), O);
      }
    }
    std::copy(h.begin(), h.end(), saved);
  }
}

// dW, db (and the readout's dW_O, db_O) accumulate over steps and the batch; grad_out, the gradient of the
// states themselves, may be null (only the readout was used). G, when given, receives each step's
// pre-activation gradient (zero for held units: the caller zeroes it), from which torch derives the
// input's gradients.
template <typename T>
void cw_backward(i64 R, i64 B, i64 steps, i64 n, const T* W, const vec<T>* tape, const T* grad_out, Schedule s,
                 T* dW, T* db, T* G, T* dh0, i64 O, const T* W_O, const T* grad_y, T* dW_O, T* db_O) {
  using V = vec<T>;
  std::vector<V> Wl, WO, dWl(n * n), dbl(n), dWO(O * n), dbO(O), dh(n), h(n), g(n), dy(O);
  // The readout's gradient reaches a module at its ticks: between them its state is held, so dy summed
  // over the steps since (later in time) meets it once (2 n O multiply-adds per step were a tenth of the
  // CW-RNN's backward; for the SRN, one module that always ticks, nothing changes). Every module ticks at
  // step 0, so every sum is spent.
  std::vector<V> dy_held(s.modules * O);
  const auto reach_readout = [&](i64 m) {
    for (i64 o = 0; o < O; o++) {
      const V sum = dy_held[m * O + o];
      for (i64 i = s.bounds[m]; i < s.bounds[m + 1]; i++) {
        dh[i] += sum * WO[o * n + i];
        dWO[o * n + i] += sum * h[i];
      }
      dy_held[m * O + o] = V{};
    }
  };
  const T* rows[GROUP];
  T* to[GROUP];
  const i64 seq = steps * n, net = B * seq;  // strides of the states
  const i64 updates = s.updates(steps);
  for (i64 first = 0; first < R * B; first += GROUP) {
    const Lanes lanes(first, R * B, B);
    const V* saved = tape + first / GROUP * (updates + n) + updates;
    gather_weights(Wl, W, n * n, lanes);
    if (W_O) gather_weights(WO, W_O, O * n, lanes);
    for (auto* v : {&dWl, &dbl, &dWO, &dbO, &dh, &dy_held}) std::fill(v->begin(), v->end(), V{});
    std::copy(saved, saved + n, h.begin());  // h is h_t below, then h_{t - 1}
    for (i64 t = steps - 1; t >= 0; t--) {
      if (grad_out) {  // the states' own gradient, if any
        lanes.rows(rows, grad_out, net, seq, t * n);
        gather(g.data(), rows, n);
        for (i64 j = 0; j < n; j++) dh[j] += g[j];
      }
      const int32_t* act = s.active(t);
      const i64 k = s.count(t), reach = s.reach(t);
      if (W_O) {
        lanes.rows(rows, grad_y, B * steps * O, steps * O, t * O);
        gather(dy.data(), rows, O);
        for (i64 o = 0; o < O; o++) {
          dbO[o] += dy[o];
          for (i64 m = 0; m < s.modules; m++) dy_held[m * O + o] += dy[o];
        }
        for (i64 a = 0; a < k; a++) reach_readout(act[a]);  // h is h_t here
      }
      std::fill(g.begin(), g.begin() + reach, V{});  // G's rows of held modules among the active ones
      saved -= s.units(t);
      // The tape is read backwards, which the hardware prefetchers follow poorly (a quarter of the CW-RNN's
      // backward waited on it): each step asks for as many bytes as it reads, 1 KiB ahead.
      for (i64 c = 0; c < s.units(t) * i64(sizeof(V)); c += 64)
        __builtin_prefetch(reinterpret_cast<const char*>(saved) - 1024 - c);
      for (i64 a = 0, u = 0; a < k; a++)
        for (i64 i = s.bounds[act[a]]; i < s.bounds[act[a] + 1]; i++, u++) {
          g[i] = dh[i] * (1 - h[i] * h[i]);
          dh[i] = V{};  // an updated unit's old value reaches the loss only through the weights
          dbl[i] += g[i];
          h[i] = saved[u];
        }
      for (i64 a = 0; a < k; a++) {
        const i64 m = act[a], lo = s.bounds[m], hi = s.bounds[m + 1], from = s.reads[2 * m], end = s.reads[2 * m + 1];
        for (i64 i = lo; i < hi; i++)
          for (i64 j = from; j < end; j++) dWl[i * n + j] += g[i] * h[j];
        sums<true>(dh.data() + from, Wl.data() + lo * n + from, 1, n, g.data() + lo, hi - lo, end - from);  // W^T g
      }
      if (G) {
        lanes.rows(to, G, net, seq, t * n);
        scatter(to, g.data(), reach);
      }
    }
    lanes.rows(to, dh0, B * n, n, 0);
    scatter(to, dh.data(), n);
    add_to_networks(dW, dWl, n * n, lanes);
    add_to_networks(db, dbl, n, lanes);
    if (W_O) add_to_networks(dW_O, dWO, O * n, lanes), add_to_networks(db_O, dbO, O, lanes);
  }
}

// ---- peephole LSTM (gated_scan.LSTMScan's equations; gate order i, f, g, o) ---------------------------
// z = drive_t + W h_{t-1};  i = s(z_i + p_i c_{t-1}),  f = s(z_f + p_f c_{t-1}),  g = tanh(z_g),
// c_t = f c_{t-1} + i g,  o = s(z_o + p_o c_t),  h_t = o tanh(c_t).  c_{-1} = 0; peep may be null.
// gates (R, B, T, 4n) hold i, f, g, o after their nonlinearities.

template <typename T>
void lstm_forward(i64 R, i64 B, i64 steps, i64 n, const T* W, const T* drive, Drive ds, const T* peep,
                  const T* h0, T* out, T* cells, T* tanh_cells, T* gates, Readout<T> ro, T* y) {
  const i64 np = padded(n), n4 = padded(4 * n);
  std::vector<T> Wt, zw(n4, 0), z(4 * np, 0), h(np, 0), c(np, 0), tc(np, 0);
  for (i64 r = 0; r < R; r++) {
    pad(Wt, W + r * 4 * n * n, 4 * n, n, n4, np, true);
    const T* p = peep ? peep + r * 3 * n : nullptr;
    if (ro.on()) ro.network(r);
    for (i64 b = 0; b < B; b++) {
      const i64 member = r * B + b;
      std::memcpy(h.data(), h0 + member * n, n * sizeof(T));
      std::fill(c.begin(), c.end(), T(0));
      const T* d = drive + r * ds.r + b * ds.b;
      T *zi = z.data(), *zf = zi + np, *zg = zf + np, *zo = zg + np;
      for (i64 t = 0; t < steps; t++, d += ds.t) {
        combine(zw.data(), Wt.data(), n4, h.data(), np, n4);
        for (i64 q = 0; q < 4; q++)  // each gate to its own padded block, for the activations
          for (i64 j = 0; j < n; j++) z[q * np + j] = zw[q * n + j] + d[q * n + j];
        if (p)
          for (i64 j = 0; j < n; j++) {
            zi[j] += p[j] * c[j];
            zf[j] += p[n + j] * c[j];
          }
        sigmoid_all(zi, 2 * np);
        tanh_all(zg, np);
        for (i64 j = 0; j < n; j++) tc[j] = c[j] = zf[j] * c[j] + zi[j] * zg[j];
        if (p)
          for (i64 j = 0; j < n; j++) zo[j] += p[2 * n + j] * c[j];
        sigmoid_all(zo, np);
        tanh_all(tc.data(), np);
        for (i64 j = 0; j < n; j++) h[j] = zo[j] * tc[j];
        const i64 at = (member * steps + t) * n;
        std::memcpy(out + at, h.data(), n * sizeof(T));
        std::memcpy(cells + at, c.data(), n * sizeof(T));
        std::memcpy(tanh_cells + at, tc.data(), n * sizeof(T));
        for (i64 q = 0; q < 4; q++) std::memcpy(gates + 4 * at + q * n, z.data() + q * np, n * sizeof(T));
        if (ro.on()) ro.emit(h.data(), y + (member * steps + t) * ro.O);
      }
    }
  }
}

// dW, db, dpeep accumulate (zeroed by the caller); grad_out, G and the readout as in cw_backward, G
// (R, B, T, 4n).
template <typename T>
void lstm_backward(i64 R, i64 B, i64 steps, i64 n, const T* W, const T* peep, const T* h0, const T* out,
                   const T* cells, const T* tanh_cells, const T* gates, const T* grad_out, T* dW, T* db, T* dpeep,
                   T* G, T* dh0, Readout<T> ro, const T* grad_y, T* dW_O, T* db_O) {
  const i64 np = padded(n), n4 = padded(4 * n);
  std::vector<T> Wp, dWp, dh(np, 0), now(np, 0), before(np, 0), dc(n), dz(n4, 0), zero(n, 0);
  for (i64 r = 0; r < R; r++) {
    pad(Wp, W + r * 4 * n * n, 4 * n, n, n4, np, false);
    dWp.assign(4 * n * np, 0);
    const T* p = peep ? peep + r * 3 * n : nullptr;
    T* dbr = db + r * 4 * n;
    T* dp = peep ? dpeep + r * 3 * n : nullptr;
    if (ro.on()) ro.network(r);
    for (i64 b = 0; b < B; b++) {
      const i64 member = r * B + b;
      std::fill(dh.begin(), dh.end(), T(0));
      std::fill(dc.begin(), dc.end(), T(0));
      std::memcpy(now.data(), out + ((member + 1) * steps - 1) * n, n * sizeof(T));
      for (i64 t = steps - 1; t >= 0; t--) {
        const i64 at = (member * steps + t) * n;
        if (grad_out) axpy_n(dh.data(), T(1), grad_out + at, n);  // the states' own gradient, if any
        if (ro.on()) ro.back(grad_y + (member * steps + t) * ro.O, now.data(), dh.data(), db_O + r * ro.O);
        const T *i = gates + 4 * at, *f = i + n, *g = f + n, *o = g + n;
        const T *c = cells + at, *tc = tanh_cells + at;
        const T* c_prev = t ? c - n : zero.data();
        std::memcpy(before.data(), t ? out + at - n : h0 + member * n, n * sizeof(T));
        T *dzi = dz.data(), *dzf = dzi + n, *dzg = dzf + n, *dzo = dzg + n;
        for (i64 j = 0; j < n; j++) {
          const T a = tc[j] * o[j] * (1 - o[j]);  // d h / d z_o
          T e = o[j] * (1 - tc[j] * tc[j]);       // d h / d c_t
          if (p) e += a * p[2 * n + j];
          dzo[j] = dh[j] * a;
          dc[j] += dh[j] * e;
          dzi[j] = dc[j] * g[j] * i[j] * (1 - i[j]);
          dzf[j] = dc[j] * c_prev[j] * f[j] * (1 - f[j]);
          dzg[j] = dc[j] * i[j] * (1 - g[j] * g[j]);
          dc[j] *= f[j];
          if (p) {
            dc[j] += dzi[j] * p[j] + dzf[j] * p[n + j];
            dp[j] += dzi[j] * c_prev[j];
            dp[n + j] += dzf[j] * c_prev[j];
            dp[2 * n + j] += dzo[j] * c[j];
          }
        }
        for (i64 q = 0; q < 4 * n; q++) {
          dbr[q] += dz[q];
          axpy(dWp.data() + q * np, dz[q], before.data(), np);
        }
        if (G) std::memcpy(G + 4 * at, dz.data(), 4 * n * sizeof(T));
        combine(dh.data(), Wp.data(), np, dz.data(), n4, np);  // the gradient reaching h_{t-1}
        now.swap(before);
      }
      std::memcpy(dh0 + member * n, dh.data(), n * sizeof(T));
    }
    unpad(dW + r * 4 * n * n, dWp, 4 * n, n, np);
    if (ro.on()) ro.done(dW_O + r * ro.O * n);
  }
}

}  // namespace

// C entry points, one per dtype (ctypes calls them with raw pointers; kernels.py checks every layout).
// The CW-RNN's schedule: g modules with unit bounds (g + 1) that read units reads (g, 2), step t's active
// modules mods[starts[t] : starts[t + 1]]. O is the readout's width; W_O null (and O 0) without one.
#define ENTRY_POINTS(T, suffix)                                                                               \
  extern "C" void cw_forward_##suffix(i64 R, i64 B, i64 steps, i64 n, const T* W, const T* drive, i64 dr,     \
                                      i64 db, i64 dt, const T* h0, i64 g, const int32_t* mods,                \
                                      const i64* starts, const i64* bounds, const i64* reads, T* out,         \
                                      T* tape, i64 O, const T* W_O, const T* b_O, T* y) {                     \
    cw_forward(R, B, steps, n, W, drive, Drive{dr, db, dt}, h0, Schedule{mods, starts, bounds, reads, g}, out,   \
               reinterpret_cast<vec<T>*>(tape), O, W_O, b_O, y);                                              \
  }                                                                                                           \
  extern "C" void cw_backward_##suffix(i64 R, i64 B, i64 steps, i64 n, const T* W, const T* tape,             \
                                       const T* grad_out, i64 g, const int32_t* mods, const i64* starts,      \
                                       const i64* bounds, const i64* reads, T* dW, T* db, T* G, T* dh0, i64 O, \
                                       const T* W_O, const T* grad_y, T* dW_O, T* db_O) {                     \
    cw_backward(R, B, steps, n, W, reinterpret_cast<const vec<T>*>(tape), grad_out,                           \
                Schedule{mods, starts, bounds, reads, g}, dW, db, G, dh0, O, W_O, grad_y, dW_O, db_O);           \
  }                                                                                                           \
  extern "C" void lstm_forward_##suffix(i64 R, i64 B, i64 steps, i64 n, const T* W, const T* drive, i64 dr,   \
                                        i64 db, i64 dt, const T* peep, const T* h0, T* out, T* cells,         \
                                        T* tanh_cells, T* gates, i64 O, const T* W_O, const T* b_O, T* y) {   \
    lstm_forward(R, B, steps, n, W, drive, Drive{dr, db, dt}, peep, h0, out, cells, tanh_cells, gates,        \
                 Readout<T>(W_O, b_O, O, n), y);                                                           \
  }                                                                                                           \
  extern "C" void lstm_backward_##suffix(i64 R, i64 B, i64 steps, i64 n, const T* W, const T* peep,           \
                                         const T* h0, const T* out, const T* cells, const T* tanh_cells,      \
                                         const T* gates, const T* grad_out, T* dW, T* db, T* dpeep, T* G,     \
                                         T* dh0, i64 O, const T* W_O, const T* grad_y, T* dW_O, T* db_O) {    \
    lstm_backward(R, B, steps, n, W, peep, h0, out, cells, tanh_cells, gates, grad_out, dW, db, dpeep, G,     \
                  dh0, Readout<T>(W_O, nullptr, O, n), grad_y, dW_O, db_O);                                \
  }

// Elements of the CW-RNN's tape (cw_forward) for `members` members on a schedule: whole groups.
extern "C" i64 cw_tape_size(i64 members, i64 steps, i64 n, i64 g, const int32_t* mods, const i64* starts,
                            const i64* bounds, const i64* reads) {
  return (members + GROUP - 1) / GROUP * (Schedule{mods, starts, bounds, reads, g}.updates(steps) + n) * GROUP;
}

ENTRY_POINTS(float, f32)
ENTRY_POINTS(double, f64)
