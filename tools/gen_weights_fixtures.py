#!/usr/bin/python3
"""Fixtures for tests/test_weights*.c, written by the real tools (torch, numpy, protobuf),
independently of the C parsers. Run: /usr/bin/python3 tools/gen_weights_fixtures.py

tests/fixtures/weights/
  torch_legacy.pt, torch_zip.pt   one state_dict saved both ways (legacy pickle / zip) with:
                                  float32/float64/float16/int64, a 0-d tensor, an empty tensor,
                                  two views sharing one storage at offsets 2 and 10, a transposed
                                  (non-contiguous) view, a stride-2 view, a nested dict.
  torch_expected.safetensors      the same tensors made contiguous (names as in the state_dict,
                                  nested dict keys joined by "."), dtypes kept.
  npy_dict.npy / npy_dict_p2.npy  np.save of {layer: {param: array}} with pickle protocol 3 / 2
                                  (protocol 2 stores bytes as _codecs.encode(str, 'latin1'), the
                                  real det*.npy use py2 BINSTRING); includes a Fortran-order
                                  array and a float64 array.
  npy_expected.safetensors        the same arrays, C order, named "layer/param".
  graphdef.pb                     a GraphDef built with python3-protobuf from a schema declared at
                                  run time: Const nodes with tensor_content, packed and unpacked
                                  float_val, a splat (one value for many), double/int32/int64/half
                                  values, a string Const and a non-Const node (both skipped).
  graphdef_expected.safetensors   the Const tensors by node name (strings/non-Const absent).
  graphdef_irv1.pb                Const nodes with facenet's TF Inception-ResNet-v1 names (small
                                  shapes); graphdef_irv1_expected.safetensors holds what the
                                  facenet-pytorch conversion gives (tensorflow2pytorch.py: conv
                                  permute(3,2,0,1), linear transpose, bn weight = 1).
  evil_global.pkl                 a protocol-2 pickle calling os.system (GLOBAL opcode, written by
                                  hand, never executed); evil_zip.pt the same as data.pkl in a zip.
  bad_shape.pt, bad_stride.pt,    zip .pt whose pickle (written by pickle.Pickler with a storage
  bad_offset.pt, neg_stride.pt    persistent id, as torch does) describes impossible tensor views;
  compressed.pt                   torch_zip.pt re-packed with deflate (refused: stored only).
  irv1_shared.pt                  a full facenet-pytorch InceptionResnetV1 state_dict (714 entries,
                                  names/shapes from tests/fixtures/irv1/params.txt, D = 512) saved
                                  with torch (zip) where every tensor is a view of one of five small
                                  shared storages, so the file stays small. THE PATTERN (test
                                  reproduces it):
     storages (float32 unless noted), k = 0..N-1:
       W (N=8192): ((k*40503 + 12345) % 65536 - 32768) / 2097152     conv/linear weights
       G (N=2048): 1 + ((k*37) % 64 - 32) / 256                      bn.weight
       B (N=2048): ((k*53) % 64 - 32) / 512                          bn.bias, running_mean, conv biases
       V (N=2048): 1 + ((k*29) % 64) / 128                           running_var
       L (int64, N=1): 7                                             num_batches_tracked (0-d)
     tensor number i (state_dict order, counting from 0) of shape s is
       storage.as_strided(s, strides, offset) with strides 4-D (3,1,2,1), 2-D (3,1), 1-D (1,), 0-d ()
       span = 1 + sum((s_d - 1) * stride_d);  offset = (i * 97) % (N - span + 1)
"""
import io
import json
import os
import pickle
import struct
import zipfile

import numpy as np
import torch
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'tests', 'fixtures', 'weights')
IRV1_PARAMS = os.path.join(HERE, '..', 'tests', 'fixtures', 'irv1', 'params.txt')

ST_DTYPE = {np.dtype('float32'): 'F32', np.dtype('float64'): 'F64', np.dtype('float16'): 'F16',
            np.dtype('int64'): 'I64', np.dtype('int32'): 'I32'}


def save_safetensors(path, tensors):
    """Minimal independent safetensors writer (header JSON + raw little-endian bytes)."""
    header, blobs, off = {}, [], 0
    for name, a in tensors.items():
        a = np.array(a, order='C')  # (ascontiguousarray would turn 0-d into 1-d)
        b = a.astype(a.dtype.newbyteorder('<')).tobytes()
        header[name] = {'dtype': ST_DTYPE[a.dtype], 'shape': list(a.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


def seeded(rng, shape, dtype):
    return torch.from_numpy(rng.standard_normal(shape).astype(dtype))


def torch_cases():
    rng = np.random.default_rng(1234)
    base = torch.arange(24, dtype=torch.float32) * 0.5 - 3.0
    sd = {
        'f32': seeded(rng, (3, 4), np.float32),
        'f64': seeded(rng, (5,), np.float64),
        'f16': seeded(rng, (2, 3), np.float16),
        'i64': torch.tensor([1, -2, 3, 1 << 40], dtype=torch.int64),
        'scalar': torch.tensor(2.5, dtype=torch.float32),
        'empty': torch.zeros((0, 3), dtype=torch.float32),
        'shared_a': base[2:14].view(3, 4),          # storage offset 2
        'shared_b': base[10:22].view(2, 6),         # same storage, offset 10
        'transposed': seeded(rng, (3, 5), np.float32).t(),  # strides (1, 5)
        'strided': (torch.arange(10, dtype=torch.float32) * 1.25)[::2],  # stride 2
        'nested': {'inner': {'w': seeded(rng, (2, 2), np.float32)}},
    }
    assert sd['shared_a'].storage().data_ptr() == sd['shared_b'].storage().data_ptr()
    assert not sd['transposed'].is_contiguous()
    torch.save(sd, os.path.join(OUT, 'torch_legacy.pt'), _use_new_zipfile_serialization=False)
    torch.save(sd, os.path.join(OUT, 'torch_zip.pt'))
    flat = {}

    def walk(d, prefix):
        for k, v in d.items():
            name = prefix + k
            if isinstance(v, dict):
                walk(v, name + '.')
            else:
                flat[name] = v.contiguous().numpy()
    walk(sd, '')
    save_safetensors(os.path.join(OUT, 'torch_expected.safetensors'), flat)


def npy_cases():
    rng = np.random.default_rng(99)
    d = {
        'conv1': {'weights': rng.standard_normal((3, 3, 2, 4)).astype(np.float32),
                  'biases': rng.standard_normal(4).astype(np.float32)},
        'PReLU1': {'alpha': rng.standard_normal(4).astype(np.float32)},
        'fc': {'weights': np.asfortranarray(rng.standard_normal((5, 3)).astype(np.float32)),
               'biases': rng.standard_normal(3).astype(np.float64)},
    }
    assert d['fc']['weights'].flags.f_contiguous and not d['fc']['weights'].flags.c_contiguous
    np.save(os.path.join(OUT, 'npy_dict.npy'), d, allow_pickle=True)
    # np.save always pickles with protocol 3: write the same .npy with protocol 2 by hand
    obj = np.empty((), dtype=object)
    obj[()] = d
    with open(os.path.join(OUT, 'npy_dict_p2.npy'), 'wb') as f:
        np.lib.format.write_array_header_1_0(f, {'descr': '|O', 'fortran_order': False, 'shape': ()})
        pickle.dump(obj, f, protocol=2)
    back = np.load(os.path.join(OUT, 'npy_dict_p2.npy'), allow_pickle=True).item()
    assert np.array_equal(back['fc']['weights'], d['fc']['weights'])
    flat = {'%s/%s' % (k, p): np.ascontiguousarray(a) for k, v in d.items() for p, a in v.items()}
    save_safetensors(os.path.join(OUT, 'npy_expected.safetensors'), flat)


def graphdef_classes():
    """The few GraphDef messages we need, declared at run time (field numbers as in
    tensorflow/core/framework/{graph,node_def,attr_value,tensor,tensor_shape}.proto)."""
    F = descriptor_pb2.FieldDescriptorProto
    fd = descriptor_pb2.FileDescriptorProto(name='mini_tf.proto', package='tf', syntax='proto3')

    def msg(name, fields, nested=None, options=None):
        m = fd.message_type.add(name=name) if nested is None else nested.nested_type.add(name=name)
        for fname, num, ftype, label, tname in fields:
            f = m.field.add(name=fname, number=num, type=ftype, label=label)
            if tname:
                f.type_name = tname
        if options:
            m.options.map_entry = True
        return m
    OPT, REP = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    dim = msg('Dim', [('size', 1, F.TYPE_INT64, OPT, None), ('name', 2, F.TYPE_STRING, OPT, None)])
    msg('TensorShapeProto', [('dim', 2, F.TYPE_MESSAGE, REP, '.tf.Dim'), ('unknown_rank', 3, F.TYPE_BOOL, OPT, None)])
    msg('TensorProto', [('dtype', 1, F.TYPE_ENUM if False else F.TYPE_INT32, OPT, None),
                        ('tensor_shape', 2, F.TYPE_MESSAGE, OPT, '.tf.TensorShapeProto'),
                        ('version_number', 3, F.TYPE_INT32, OPT, None),
                        ('tensor_content', 4, F.TYPE_BYTES, OPT, None),
                        ('float_val', 5, F.TYPE_FLOAT, REP, None),
                        ('double_val', 6, F.TYPE_DOUBLE, REP, None),
                        ('int_val', 7, F.TYPE_INT32, REP, None),
                        ('string_val', 8, F.TYPE_BYTES, REP, None),
                        ('int64_val', 10, F.TYPE_INT64, REP, None),
                        ('half_val', 13, F.TYPE_INT32, REP, None)])
    msg('AttrValue', [('s', 2, F.TYPE_BYTES, OPT, None), ('i', 3, F.TYPE_INT64, OPT, None),
                      ('type', 6, F.TYPE_INT32, OPT, None), ('tensor', 8, F.TYPE_MESSAGE, OPT, '.tf.TensorProto')])
    node = msg('NodeDef', [('name', 1, F.TYPE_STRING, OPT, None), ('op', 2, F.TYPE_STRING, OPT, None),
                           ('input', 3, F.TYPE_STRING, REP, None), ('device', 4, F.TYPE_STRING, OPT, None),
                           ('attr', 5, F.TYPE_MESSAGE, REP, '.tf.NodeDef.AttrEntry')])
    msg('AttrEntry', [('key', 1, F.TYPE_STRING, OPT, None), ('value', 2, F.TYPE_MESSAGE, OPT, '.tf.AttrValue')],
        nested=node, options=True)
    msg('VersionDef', [('producer', 1, F.TYPE_INT32, OPT, None)])
    msg('GraphDef', [('node', 1, F.TYPE_MESSAGE, REP, '.tf.NodeDef'), ('versions', 4, F.TYPE_MESSAGE, OPT, '.tf.VersionDef')])
    del dim
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    factory = message_factory.MessageFactory(pool)
    return {n: factory.GetPrototype(pool.FindMessageTypeByName('tf.' + n)) for n in ('GraphDef', 'NodeDef', 'TensorProto')}


DT = {'float32': 1, 'float64': 2, 'int32': 3, 'string': 7, 'int64': 9, 'float16': 19}


def const_node(C, g, name, dtype, shape, **vals):
    n = g.node.add(name=name, op='Const')
    n.attr['dtype'].type = DT[dtype]
    t = n.attr['value'].tensor
    t.dtype = DT[dtype]
    for s in shape:
        t.tensor_shape.dim.add(size=s)
    for k, v in vals.items():
        if k == 'tensor_content':
            t.tensor_content = v
        else:
            getattr(t, k).extend(v)
    return n


def graphdef_cases(C):
    rng = np.random.default_rng(7)
    g = C['GraphDef']()
    g.versions.producer = 27
    exp = {}
    a = rng.standard_normal((2, 3)).astype(np.float32)
    const_node(C, g, 'content_f32', 'float32', [2, 3], tensor_content=a.tobytes()); exp['content_f32'] = a
    b = rng.standard_normal(4).astype(np.float32)
    const_node(C, g, 'packed_f32', 'float32', [4], float_val=b.tolist()); exp['packed_f32'] = b
    const_node(C, g, 'splat_f32', 'float32', [2, 2], float_val=[1.5]); exp['splat_f32'] = np.full((2, 2), 1.5, np.float32)
    const_node(C, g, 'tail_f32', 'float32', [5], float_val=[1.0, 2.0, 3.0]); exp['tail_f32'] = np.array([1, 2, 3, 3, 3], np.float32)
    d = rng.standard_normal(3)
    const_node(C, g, 'double', 'float64', [3], double_val=d.tolist()); exp['double'] = d
    const_node(C, g, 'int32', 'int32', [3], int_val=[7, -8, 9]); exp['int32'] = np.array([7, -8, 9], np.int32)
    const_node(C, g, 'int64', 'int64', [2], int64_val=[1 << 40, -5]); exp['int64'] = np.array([1 << 40, -5], np.int64)
    h = np.array([0.5, -2.0, 65504.0], np.float16)
    const_node(C, g, 'half', 'float16', [3], half_val=h.view(np.uint16).astype(np.int32).tolist()); exp['half'] = h
    const_node(C, g, 'scalar', 'float32', [], float_val=[3.25]); exp['scalar'] = np.array(3.25, np.float32)
    const_node(C, g, 'zeros', 'float32', [3], ); exp['zeros'] = np.zeros(3, np.float32)
    const_node(C, g, 'a_string', 'string', [1], string_val=[b'hello'])
    ident = g.node.add(name='identity', op='Identity')
    ident.input.append('content_f32')
    data = g.SerializeToString()
    # float_val written one tag per value (unpacked) must read the same: hand-append a node
    # whose TensorProto repeats field 5 with wire type 5.
    def varint(x):
        out = b''
        while True:
            c = x & 0x7f
            x >>= 7
            out += bytes([c | (0x80 if x else 0)])
            if not x:
                return out

    def ld(field, payload):
        return varint(field << 3 | 2) + varint(len(payload)) + payload
    vals = [0.25, -1.0, 8.0]
    tp = varint(1 << 3) + varint(1) + ld(2, ld(2, varint(1 << 3) + varint(3)))
    tp += b''.join(varint(5 << 3 | 5) + struct.pack('<f', v) for v in vals)
    attr = ld(1, b'value') + ld(2, ld(8, tp))
    nd = ld(1, b'unpacked_f32') + ld(2, b'Const') + ld(5, attr)
    data += ld(1, nd)
    exp['unpacked_f32'] = np.array(vals, np.float32)
    # cross-check with the protobuf library itself
    g2 = C['GraphDef']()
    g2.ParseFromString(data)
    assert list(g2.node[-1].attr['value'].tensor.float_val) == vals
    open(os.path.join(OUT, 'graphdef.pb'), 'wb').write(data)
    save_safetensors(os.path.join(OUT, 'graphdef_expected.safetensors'), exp)

    # facenet TF names -> facenet-pytorch names
    g = C['GraphDef']()
    exp = {}
    def conv(tf, pt, hwio, bn=True, bias=False):
        w = rng.standard_normal(hwio).astype(np.float32)
        const_node(C, g, tf + '/weights', 'float32', list(hwio), tensor_content=w.tobytes())
        if bias:
            b = rng.standard_normal(hwio[3]).astype(np.float32)
            const_node(C, g, tf + '/biases', 'float32', [hwio[3]], tensor_content=b.tobytes())
            exp[pt + '.bias'] = b
            exp[pt + '.weight'] = torch.from_numpy(w).permute(3, 2, 0, 1).contiguous().numpy()
        else:
            exp[pt + '.conv.weight'] = torch.from_numpy(w).permute(3, 2, 0, 1).contiguous().numpy()
        if bn:
            c = hwio[3]
            for tfn, ptn in (('beta', 'bias'), ('moving_mean', 'running_mean'), ('moving_variance', 'running_var')):
                v = rng.random(c).astype(np.float32)
                const_node(C, g, tf + '/BatchNorm/' + tfn, 'float32', [c], tensor_content=v.tobytes())
                exp[pt + '.bn.' + ptn] = v
            exp[pt + '.bn.weight'] = np.ones(c, np.float32)
    R = 'InceptionResnetV1/'
    conv(R + 'Conv2d_1a_3x3', 'conv2d_1a', (3, 3, 3, 4))
    conv(R + 'Conv2d_4b_3x3', 'conv2d_4b', (3, 3, 2, 3))
    conv(R + 'Repeat/block35_2/Branch_2/Conv2d_0c_3x3', 'repeat_1.1.branch2.2', (3, 3, 2, 3))
    conv(R + 'Repeat/block35_5/Conv2d_1x1', 'repeat_1.4.conv2d', (1, 1, 6, 4), bn=False, bias=True)
    conv(R + 'Mixed_6a/Branch_1/Conv2d_1a_3x3', 'mixed_6a.branch1.2', (3, 3, 2, 2))
    conv(R + 'Repeat_1/block17_10/Branch_1/Conv2d_0b_1x7', 'repeat_2.9.branch1.1', (1, 7, 2, 2))
    conv(R + 'Mixed_7a/Branch_0/Conv2d_1a_3x3', 'mixed_7a.branch0.1', (3, 3, 2, 3))
    conv(R + 'Repeat_2/block8_1/Branch_1/Conv2d_0c_3x1', 'repeat_3.0.branch1.2', (3, 1, 2, 2))
    conv(R + 'Block8/Conv2d_1x1', 'block8.conv2d', (1, 1, 4, 5), bn=False, bias=True)
    wb = rng.standard_normal((6, 4)).astype(np.float32)  # Bottleneck [1792, dim] in the real graph
    const_node(C, g, R + 'Bottleneck/weights', 'float32', [6, 4], tensor_content=wb.tobytes())
    exp['last_linear.weight'] = np.ascontiguousarray(wb.T)
    for tfn, ptn in (('beta', 'bias'), ('moving_mean', 'running_mean'), ('moving_variance', 'running_var')):
        v = rng.random(4).astype(np.float32)
        const_node(C, g, R + 'Bottleneck/BatchNorm/' + tfn, 'float32', [4], tensor_content=v.tobytes())
        exp['last_bn.' + ptn] = v
    exp['last_bn.weight'] = np.ones(4, np.float32)
    const_node(C, g, 'phase_train/input', 'float32', [], float_val=[0.0])   # unmapped: dropped
    const_node(C, g, R + 'Logits/something', 'float32', [1], float_val=[1.0])  # unmapped: dropped
    open(os.path.join(OUT, 'graphdef_irv1.pb'), 'wb').write(g.SerializeToString())
    save_safetensors(os.path.join(OUT, 'graphdef_irv1_expected.safetensors'), exp)


def evil_cases():
    # GLOBAL 'os system', a string argument, TUPLE1, REDUCE, STOP — written by hand
    evil = b'\x80\x02cos\nsystem\nq\x00X\x0a\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03.'
    ops = [op.name for op, arg, pos in __import__('pickletools').genops(evil)]
    assert 'GLOBAL' in ops and 'REDUCE' in ops
    open(os.path.join(OUT, 'evil_global.pkl'), 'wb').write(evil)
    with zipfile.ZipFile(os.path.join(OUT, 'evil_zip.pt'), 'w', zipfile.ZIP_STORED) as z:
        z.writestr('archive/data.pkl', evil)
        z.writestr('archive/version', '3\n')


def bad_torch_cases():
    """Zip .pt files whose data.pkl is written by pickle itself (protocol 2) with a
    persistent storage id, like torch.save, but with impossible tensor geometry."""
    import collections

    class FakeStorage:
        pass

    class FakeTensor:
        def __init__(self, offset, size, stride):
            self.args = (offset, size, stride)

        def __reduce__(self):
            o, sz, st = self.args
            return (torch._utils._rebuild_tensor_v2, (FakeStorage(), o, sz, st, False, collections.OrderedDict()))

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            return ('storage', torch.FloatStorage, '0', 'cpu', 4) if isinstance(obj, FakeStorage) else None

    cases = {
        'bad_shape.pt': FakeTensor(0, (1 << 31, 1 << 31, 1 << 31), (1, 1, 1)),   # 2^93 elements
        'bad_stride.pt': FakeTensor(0, (2, 2), (4, 1)),                          # reaches element 5 of 4
        'bad_offset.pt': FakeTensor(100, (2,), (1,)),                            # offset past the storage
        'neg_stride.pt': FakeTensor(3, (2,), (-1,)),                             # torch never writes these
    }
    for fname, t in cases.items():
        buf = io.BytesIO()
        Pickler(buf, protocol=2).dump(collections.OrderedDict([('w', t)]))
        with zipfile.ZipFile(os.path.join(OUT, fname), 'w', zipfile.ZIP_STORED) as z:
            z.writestr('archive/data.pkl', buf.getvalue())
            z.writestr('archive/data/0', struct.pack('<4f', 1, 2, 3, 4))
            z.writestr('archive/version', '3\n')
    # a real torch.save archive re-packed with deflate: must be refused (stored entries only)
    src = zipfile.ZipFile(os.path.join(OUT, 'torch_zip.pt'))
    with zipfile.ZipFile(os.path.join(OUT, 'compressed.pt'), 'w', zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            z.writestr(info.filename, src.read(info.filename))


def irv1_pattern():
    W = np.array([((k * 40503 + 12345) % 65536 - 32768) / 2097152 for k in range(8192)], np.float32)
    G = np.array([1 + ((k * 37) % 64 - 32) / 256 for k in range(2048)], np.float32)
    B = np.array([((k * 53) % 64 - 32) / 512 for k in range(2048)], np.float32)
    V = np.array([1 + ((k * 29) % 64) / 128 for k in range(2048)], np.float32)
    return {'W': torch.from_numpy(W), 'G': torch.from_numpy(G), 'B': torch.from_numpy(B),
            'V': torch.from_numpy(V), 'L': torch.tensor([7], dtype=torch.int64)}


def irv1_category(name, ndim):
    if name.endswith('num_batches_tracked'):
        return 'L'
    if name.endswith('running_var'):
        return 'V'
    if ndim >= 2:
        return 'W'
    if '.bn.weight' in name or name == 'last_bn.weight':
        return 'G'
    return 'B'


def irv1_cases():
    S = irv1_pattern()
    sd = {}
    for i, line in enumerate(l for l in open(IRV1_PARAMS) if not l.startswith('#')):
        name, dtype, shape = line.split()
        shape = [] if shape == '-' else [512 if s == 'D' else int(s) for s in shape.split(',')]
        strides = {4: (3, 1, 2, 1), 2: (3, 1), 1: (1,), 0: ()}[len(shape)]
        st = S[irv1_category(name, len(shape))]
        span = 1 + sum((s - 1) * d for s, d in zip(shape, strides))
        offset = (i * 97) % (st.numel() - span + 1)
        sd[name] = st.as_strided(shape, strides, offset)
    assert len(sd) == 714, len(sd)
    torch.save(sd, os.path.join(OUT, 'irv1_shared.pt'))
    back = torch.load(os.path.join(OUT, 'irv1_shared.pt'))
    assert all(torch.equal(back[k], v) for k, v in sd.items())


def main():
    os.makedirs(OUT, exist_ok=True)
    torch_cases()
    npy_cases()
    graphdef_cases(graphdef_classes())
    evil_cases()
    bad_torch_cases()
    irv1_cases()
    for f in sorted(os.listdir(OUT)):
        print('%-36s %8d bytes' % (f, os.path.getsize(os.path.join(OUT, f))))


if __name__ == '__main__':
    main()
