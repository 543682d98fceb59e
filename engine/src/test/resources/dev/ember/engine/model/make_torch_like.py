# Writes torch-like.ckpt: the pickle torch.save(..) emits for a Lightning-style checkpoint, made with
# the standard pickle module and stand-in modules (torch is not needed). Protocol 2 with the memo
# (BINPUT/BINGET), two tensors sharing one storage (the second at a storage offset), an OrderedDict
# carrying _metadata (BUILD), a non-tensor top-level entry, and storages STORED under "v1-5-pruned/".
import collections, io, pickle, struct, sys, types, zipfile

torch = types.ModuleType("torch"); utils = types.ModuleType("torch._utils")
sys.modules["torch"] = torch; sys.modules["torch._utils"] = utils
class FloatStorage: pass
FloatStorage.__module__ = "torch"; torch.FloatStorage = FloatStorage
def _rebuild_tensor_v2(*a): pass
_rebuild_tensor_v2.__module__ = "torch._utils"; utils._rebuild_tensor_v2 = _rebuild_tensor_v2

class Storage:
    def __init__(self, key, n): self.key, self.n = key, n
class Tensor:
    def __init__(self, storage, offset, size, stride): self.args = (storage, offset, size, stride, False, collections.OrderedDict())
    def __reduce__(self): return (_rebuild_tensor_v2, self.args)

s0 = Storage("0", 10)
sd = collections.OrderedDict()
sd["a"] = Tensor(s0, 0, (2, 3), (3, 1))
sd["b"] = Tensor(s0, 6, (4,), (1,))
sd._metadata = collections.OrderedDict([("", {"version": 1})])
top = {"global_step": 470000, "state_dict": sd}

class P(pickle.Pickler):
    def persistent_id(self, obj):
        return ("storage", FloatStorage, obj.key, "cpu", obj.n) if isinstance(obj, Storage) else None
buf = io.BytesIO(); P(buf, protocol=2).dump(top)
with zipfile.ZipFile("torch-like.ckpt", "w", zipfile.ZIP_STORED) as z:
    z.writestr("v1-5-pruned/data.pkl", buf.getvalue())
    z.writestr("v1-5-pruned/data/0", struct.pack("<10f", *range(10)))
    z.writestr("v1-5-pruned/version", "3\n")
