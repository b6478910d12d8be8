"""cjson, cmsgpack and struct in the Lua sandbox: differential against real Redis (the
reply bytes of EVAL, including error texts and msgpack/struct binary output)."""
import pytest

CJSON = [
    "return cjson.encode({1,2,3,{a=1}})",
    "return cjson.encode({})",
    "return cjson.encode({{}, {{}}})",
    "return cjson.encode('a/b\"c\\\\d\\n\\r\\t\\b\\f\\0\\1\\31\\127\\128\\255')",
    "return cjson.encode({1.5, -0.25, 1e20, 1e-7, 123456789012345678, 3.14159265358979, 100})",
    "return cjson.encode(12345678901234567890)",
    "return cjson.encode(true)",
    "return cjson.encode(false)",
    "return cjson.encode(nil)",
    "return cjson.encode(cjson.null)",
    "return cjson.encode({cjson.null, 1})",
    "return cjson.encode({[1]=1, [2]=2, [4]=4})",
    "return cjson.encode({[1]=1, [11]=2})",
    "return cjson.encode({[1]=1, [20]=2})",
    "return cjson.encode({[1]=1, [2]=2, [3]=3, [30]=2})",
    "return cjson.encode({[0]=1})",
    "return cjson.encode({[1.5]=1})",
    "return cjson.encode({[-1]=1})",
    "return cjson.encode({x={y={z={1,2}}}})",
    "return cjson.encode({[true]=1})",
    "return cjson.encode({[{}]=1})",
    "return cjson.encode(function() end)",
    "return cjson.encode({f=function() end})",
    "return cjson.encode(coroutine.create(function() end))",
    "return cjson.encode(0/0)",
    "return cjson.encode(1/0)",
    "return cjson.encode({[1/0]=1})",
    "return cjson.encode()",
    "return cjson.encode(1, 2)",
    "return cjson.decode()",
    "return cjson.decode(nil)",
    "return cjson.decode({})",
    "return cjson.decode('1', 2)",
    "return cjson.decode('x')",
    "return cjson.decode('')",
    "return cjson.decode('   ')",
    "return cjson.decode('[1,2,3]')",
    "return cjson.decode('[1,2,')",
    "return cjson.decode('[1,2 3]')",
    "return cjson.decode('{\"a\" 1}')",
    "return cjson.decode('{1:2}')",
    "return cjson.decode('{\"a\":1,}')",
    "return cjson.decode('{\"a\":1 \"b\"}')",
    "return cjson.decode('[1] x')",
    "return cjson.decode('truex')",
    "return cjson.decode('nul')",
    "return cjson.decode('\"abc')",
    "return cjson.decode('\"a\\\\qb\"')",
    "return cjson.decode('\"a\\\\u12\"')",
    "return cjson.decode('\"a\\\\ud800\"')",
    "return cjson.decode('\"a\\\\udc00\\\\ud800\"')",
    "return cjson.decode('\"\\\\u00e9\\\\u20ac\\\\ud83d\\\\ude00\\\\/\\\\\"\\\\b\\\\n\"')",
    "return cjson.decode('\"\\\\u0000x\"')",
    "return cjson.decode(123)",
    "return cjson.decode('1e400')",
    "return cjson.decode('-1e400') == -1/0 and 'ok' or 'no'",
    "return tostring(cjson.decode('nan'))",
    "return tostring(cjson.decode('Infinity'))",
    "return tostring(cjson.decode('-inf'))",
    "return cjson.decode('0x10')",
    "return cjson.decode('+5')",
    "return cjson.decode('007')",
    "return cjson.decode('-')",
    "return cjson.decode('- 1')",
    "return cjson.decode('1.')",
    "return cjson.decode('.5')",
    "return cjson.decode('1e5x')",
    "return cjson.decode('1\\0garbage')",
    "return cjson.decode('\\0x')",
    "return cjson.decode('[[[[1]]]]')",
    "return tostring(cjson.decode('12.5'))",
    "return type(cjson.decode('null'))",
    "return tostring(cjson.decode('null') == cjson.null)",
    "return {cjson.decode('[1, null, 3]')[3], #cjson.decode('[1, null, 3]')}",
    "return cjson.decode('{\"a\":{\"b\":[true,false]}}').a.b[2] == false and 1 or 0",
    "return cjson.encode(cjson.decode('{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,"
    "\"g\":7,\"h\":8,\"i\":9,\"j\":10}'))",
    "return cjson.encode(cjson.decode('{\"k1\":[1,2,{\"z\":\"\\\\u0041\"}],\"k2\":null,"
    "\"k3\":-0.5e-3,\"k4\":\"x\",\"k5\":{}}'))",
    "return cjson.encode(cjson.decode('[1,2,3,4,5,6,7,8,9,10,11,12]'))",
    "return cjson.encode(cjson.decode('{\"a\":1,\"a\":2}'))",
    "return cjson.decode('\\t\\n {\\r\"a\"\\t:\\n1 } \\n')['a']",
    "local t = {} t.a = t return cjson.encode(t)",
    "return {cjson.null == nil, tostring(cjson.null), type(cjson.null)}",
    "return {cjson._NAME, cjson._VERSION, cjson.new ~= nil}",
    "return cjson.encode(string.rep('[', 1001) .. string.rep(']', 1001))",
    "return cjson.decode(string.rep('[', 1000) .. string.rep(']', 1000)) ~= nil",
    "return cjson.decode(string.rep('[', 1001) .. string.rep(']', 1001))",
    "return cjson.decode(string.rep('{\"a\":', 1001) .. '1' .. string.rep('}', 1001))",
    "local t = {} local c = t for i = 1, 1001 do c[1] = {} c = c[1] end "
    "return cjson.encode(t)",
    "local t = {} local c = t for i = 1, 999 do c[1] = {} c = c[1] end "
    "return #cjson.encode(t)",
    "local ok, e = pcall(cjson.decode, '{') return {tostring(ok), e}",
    "local ok, e = pcall(cjson.encode, {1, function() end}) return {tostring(ok), e}",
    "cjson.encode = 1",
    "cjson.null = 1",
]

CJSON_CFG = [
    "return {cjson.encode_max_depth(), cjson.decode_max_depth(), "
    "cjson.encode_number_precision(), tostring(cjson.encode_keep_buffer()), "
    "tostring(cjson.encode_invalid_numbers()), tostring(cjson.decode_invalid_numbers())}",
    "return {tostring(cjson.encode_sparse_array())}",
    "local a, b, c = cjson.encode_sparse_array() return {tostring(a), b, c}",
    "local a, b, c = cjson.encode_sparse_array(true, 3, 5) return {tostring(a), b, c, "
    "cjson.encode({[1]=1, [8]=2}), cjson.encode({[1]=1, [2]=1, [7]=2})}",
    "cjson.encode_sparse_array(false, 0) return cjson.encode({[1]=1, [30]=2})",
    "return cjson.encode_sparse_array('on', 1, 1)",
    "return cjson.encode_sparse_array('maybe')",
    "return cjson.encode_sparse_array(true, -1)",
    "return cjson.encode_sparse_array(true, 1, 2, 3)",
    "return cjson.encode_max_depth(0)",
    "return cjson.encode_max_depth('x')",
    "return cjson.encode_max_depth(1, 2)",
    "return cjson.encode_max_depth('3')",
    "cjson.encode_max_depth(2) return cjson.encode({{1}})",
    "cjson.encode_max_depth(2) return cjson.encode({{{1}}})",
    "cjson.decode_max_depth(1) return cjson.decode('[[1]]')",
    "cjson.decode_max_depth(2) return cjson.decode('[{\"a\":[1]}]')",
    "return cjson.encode_number_precision(15)",
    "return cjson.encode_number_precision(0)",
    "cjson.encode_number_precision(3) return cjson.encode({3.14159, 1234567, 0.000123456})",
    "return cjson.encode_number_precision(5.9)",
    "return tostring(cjson.encode_keep_buffer(false))",
    "return cjson.encode_keep_buffer('off')",
    "return cjson.encode_keep_buffer(1)",
    "return cjson.encode_invalid_numbers('null')",
    "cjson.encode_invalid_numbers('null') return cjson.encode({0/0, 1/0, -1/0, 1})",
    "cjson.encode_invalid_numbers(true) return cjson.encode({1/0, -1/0, 2})",
    "cjson.encode_invalid_numbers('on') return cjson.encode({[1/0]=1})",
    "return cjson.encode_invalid_numbers('bad')",
    "cjson.decode_invalid_numbers(false) return cjson.decode('nan')",
    "cjson.decode_invalid_numbers(false) return cjson.decode('+1')",
    "cjson.decode_invalid_numbers(false) return cjson.decode('0x10')",
    "cjson.decode_invalid_numbers(false) return cjson.decode('-01')",
    "cjson.decode_invalid_numbers(false) return cjson.decode('-0.5')",
    "local j = cjson.new() j.encode_max_depth(1) return {cjson.encode_max_depth(), "
    "j.encode_max_depth(), j.encode({1})}",
    "local j = cjson.new() j.x = 1 return j.x",
    "cjson.encode_max_depth(5) return 1",
]

MSGPACK = [
    "return cmsgpack.pack(0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296)",
    "return cmsgpack.pack(-1, -32, -33, -128, -129, -32768, -32769, -2147483648, "
    "-2147483649, -1099511627776)",
    "return cmsgpack.pack(2^53, 2^63, -2^63, 2^64, 1e300, -1e300)",
    "return cmsgpack.pack(0.1, 1.5, -2.25, 3.4028234663852886e38, 1e-45, 0/0 ~= 0/0)",
    "return cmsgpack.pack(1/0, -1/0)",
    "return cmsgpack.pack(0/0)",
    "return cmsgpack.pack('', 'a', string.rep('x', 31), string.rep('x', 32))",
    "return cmsgpack.pack(string.rep('y', 255), string.rep('y', 256))",
    "return #cmsgpack.pack(string.rep('y', 65535)) .. ' ' .. #cmsgpack.pack(string.rep('y', 65536))",
    "return string.sub(cmsgpack.pack(string.rep('y', 65536)), 1, 6)",
    "return cmsgpack.pack(true, false, nil, cjson.null, function() end)",
    "return cmsgpack.pack({}, {1,2,3}, {1, nil, 3}, {[2]=1}, {a=1}, {1, a=2})",
    "local t = {} for i = 1, 16 do t[i] = i end return cmsgpack.pack(t)",
    "local t = {} for i = 1, 70000 do t[i] = i % 3 end return #cmsgpack.pack(t)",
    "local t = {} for i = 1, 20 do t['k' .. i] = i end "
    "return #cmsgpack.pack(t) .. string.sub(cmsgpack.pack(t), 1, 3)",
    "local t = {} for i = 1, 20 do t['k' .. i] = i end "
    "return cmsgpack.pack(cmsgpack.unpack(cmsgpack.pack(t)))",
    "return cmsgpack.pack({[1.5]=1, [0]=2, [-1]=3})",
    "return cmsgpack.pack({[2^31]=1})",
    "return cmsgpack.pack({[true]=1})",
    "local a = {x=nil,y=5} local b = {x=a} a['x'] = b return cmsgpack.pack(a)",
    "return cmsgpack.pack()",
    "return {cmsgpack.unpack(cmsgpack.pack(1, 'two', {3, {4}}, true))}",
    "return cmsgpack.unpack(cmsgpack.pack(1.5))",
    "return tostring(cmsgpack.unpack(cmsgpack.pack(0.1)))",
    "return tostring(cmsgpack.unpack(cmsgpack.pack(-1099511627776)))",
    "return {cmsgpack.unpack('')}",
    "return cmsgpack.unpack()",
    "return cmsgpack.unpack({})",
    "return cmsgpack.unpack('\\205\\1')",
    "return cmsgpack.unpack('\\193')",
    "return cmsgpack.unpack('\\196\\1a')",
    "return {cmsgpack.unpack('\\204\\200\\208\\200\\209\\255\\0\\210\\255\\255\\255\\0')}",
    "return {cmsgpack.unpack('\\206\\255\\255\\255\\255\\205\\1\\0\\224\\255')}",
    "return tostring(cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255\\255'))",
    "return tostring(cmsgpack.unpack('\\207\\0\\0\\0\\1\\0\\0\\0\\0'))",
    "return tostring(cmsgpack.unpack('\\211\\128\\0\\0\\0\\0\\0\\0\\0'))",
    "return tostring(cmsgpack.unpack('\\202\\63\\192\\0\\0'))",
    "return tostring(cmsgpack.unpack('\\203\\63\\185\\153\\153\\153\\153\\153\\154'))",
    "return {cmsgpack.unpack('\\217\\3abc\\218\\0\\2de\\219\\0\\0\\0\\1f')}",
    "return cmsgpack.unpack('\\219\\0\\0\\0\\9f')",
    "return cmsgpack.unpack('\\147\\1\\2')",
    "return cmsgpack.unpack('\\220\\0\\2\\1\\2')",
    "return cmsgpack.unpack('\\221\\0\\0\\0\\2\\1\\2')",
    "return cmsgpack.unpack('\\222\\0\\1\\161a\\1').a",
    "return cmsgpack.unpack('\\223\\0\\0\\0\\1\\161a\\2').a",
    "return cmsgpack.unpack('\\129\\192\\1')",
    "return cmsgpack.unpack('\\129\\161a\\192').a",
    "return cmsgpack.unpack('\\147\\1\\192\\3')",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 2)}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 3)}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 4)}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), -1)}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 'x')}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2, 1)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0, 0)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), -1)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3))}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 5, 1)}",
    "return {cmsgpack._NAME, cmsgpack._VERSION, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION}",
    "cmsgpack.pack = function() return 1 end",
    "local t = cmsgpack.unpack(cmsgpack.pack({a=1, b={c={1,2,'x'}}})) "
    "return {t.a, t.b.c[1], t.b.c[3]}",
]

STRUCT = [
    "return struct.pack('bBhHlLiI', 1, 2, 3, 4, 5, 6, 7, 8)",
    "return struct.pack('>bBhHlLiI', -1, 255, -2, 65535, -3, 2^40, -4, 4294967295)",
    "return struct.pack('<i3>i3', 70000, 70000)",
    "return struct.pack('i16', -1)",
    "return struct.pack('>I16', 2^60)",
    "return struct.pack('i33', 1)",
    "return struct.pack('i0', 1)",
    "return struct.pack('b', 300)",
    "return struct.pack('B', -1)",
    "return struct.pack('L', 2^64)",
    "return struct.pack('l', 2^63)",
    "return struct.pack('L', 2^63 + 2^12)",
    "return struct.pack('l', -2^63)",
    "return struct.pack('h', 1.9)",
    "return struct.pack('h', -1.9)",
    "return struct.pack('h', '12')",
    "return struct.pack('h', 'x')",
    "return struct.pack('h')",
    "return struct.pack('h', nil)",
    "return struct.pack('fd', 1.5, 0.1)",
    "return struct.pack('>fd', 1.5, 0.1)",
    "return struct.pack('f', 1e40)",
    "return struct.pack('f', 0.1)",
    "return struct.pack('d', 1/0)",
    "return struct.pack('c3', 'abcdef')",
    "return struct.pack('c3', 'ab')",
    "return struct.pack('c0', 'abcdef')",
    "return struct.pack('c', 'xyz')",
    "return struct.pack('s', 'hello')",
    "return struct.pack('s', 12)",
    "return struct.pack('bxxb', 1, 2)",
    "return struct.pack('!4bi', 1, 2)",
    "return struct.pack('!bd', 1, 2)",
    "return struct.pack('!2bdh', 1, 2, 3)",
    "return struct.pack('!3b', 1)",
    "return struct.pack('!b', 1)",
    "return struct.pack(' b b ', 1, 2)",
    "return struct.pack('q', 1)",
    "return struct.pack('=i', 1)",
    "return struct.pack('z', 'a')",
    "return struct.pack('5', 1)",
    "return struct.pack('i99999999999', 1)",
    "return struct.pack()",
    "return struct.pack({})",
    "return struct.pack('')",
    "return struct.pack('b\\0b', 1, 2)",
    "return {struct.unpack('bBhHlLiI', struct.pack('bBhHlLiI', -1, 2, -3, 4, -5, 6, -7, 8))}",
    "return {struct.unpack('>i3<i3', struct.pack('>i3<i3', -70000, 70000))}",
    "return {struct.unpack('>I3', '\\255\\255\\255')}",
    "return {struct.unpack('i16', string.rep('\\255', 16))}",
    "return {struct.unpack('I16', string.rep('\\1', 16))}",
    "return {tostring(struct.unpack('L', string.rep('\\255', 8)))}",
    "return {tostring(struct.unpack('l', string.rep('\\255', 7) .. '\\127'))}",
    "return {tostring(struct.unpack('d', struct.pack('d', 0.1)))}",
    "return {tostring(struct.unpack('>f', struct.pack('>f', 0.1)))}",
    "return {struct.unpack('c3', 'abcdef')}",
    "return {struct.unpack('bc0', '\\3abcdef')}",
    "return {struct.unpack('c1c0', '3abcdef')}",
    "return {struct.unpack('c1c0', 'xabcdef')}",
    "return {struct.unpack('c0', 'abcdef')}",
    "return {struct.unpack('bc0', '\\9abc')}",
    "return {struct.unpack('ss', 'ab\\0cd\\0ef')}",
    "return {struct.unpack('s', 'abc')}",
    "return {struct.unpack('xbxb', '\\1\\2\\3\\4')}",
    "return {struct.unpack('!4bi', '\\1\\0\\0\\0\\2\\0\\0\\0')}",
    "return {struct.unpack('i', 'abc')}",
    "return {struct.unpack('b', 'abc', 2)}",
    "return {struct.unpack('b', 'abc', 3)}",
    "return {struct.unpack('b', 'abc', 4)}",
    "return {struct.unpack('b', 'abc', 0)}",
    "return {struct.unpack('b', 'abc', -1)}",
    "return {struct.unpack('b', 'abc', 'x')}",
    "return {struct.unpack('b')}",
    "return {struct.unpack('q', 'abc')}",
    "return {struct.unpack('', 'abc')}",
    "return struct.size('bBhHlLiIfdxc5')",
    "return struct.size('!bd')",
    "return struct.size('!4bdh')",
    "return struct.size('i7')",
    "return struct.size('q')",
    "return struct.size('s')",
    "return struct.size('c0')",
    "return struct.size('=')",
    "return struct.size('!3')",
    "return struct.size('i40')",
    "return struct.size()",
    "struct.pack = 1",
]


@pytest.mark.parametrize("script", CJSON)
def test_cjson(both, script):
    both("EVAL", script, "0")


@pytest.mark.parametrize("script", CJSON_CFG)
def test_cjson_config(both, script):
    both("SCRIPT", "FLUSH")
    try:
        both("EVAL", script, "0")
    finally:
        both("SCRIPT", "FLUSH")


@pytest.mark.parametrize("script", MSGPACK)
def test_cmsgpack(both, script):
    both("EVAL", script, "0")


@pytest.mark.parametrize("script", STRUCT)
def test_struct(both, script):
    both("EVAL", script, "0")


def test_libs_resp3(both):
    both.resp3()
    both("EVAL", "return {cjson.decode('[1,2.5,\"x\",true]'), cmsgpack.unpack("
         "cmsgpack.pack({1,2})), struct.unpack('>h', '\\1\\2')}", "0")


def test_libs_in_functions(both):
    both("FUNCTION", "FLUSH")
    try:
        both("FUNCTION", "LOAD", "#!lua name=jlib\n"
             "redis.register_function('jf', function(keys, args) "
             "return {cjson.encode(cjson.decode(args[1])), cmsgpack.pack(args[1]), "
             "struct.pack('>I2', 258)} end)")
        both("FCALL", "jf", "0", '{"a":[1,2,{"b":null}]}')
    finally:
        both("FUNCTION", "FLUSH")


def test_cjson_config_persists_between_scripts(both):
    both("SCRIPT", "FLUSH")
    try:
        both("EVAL", "cjson.encode_max_depth(1) return 1", "0")
        both("EVAL", "return cjson.encode({{1}})", "0")
        both("SCRIPT", "FLUSH")
        both("EVAL", "return cjson.encode({{1}})", "0")
    finally:
        both("SCRIPT", "FLUSH")


def test_roundtrips_big(both):
    both("EVAL", "local t = {} for i = 1, 500 do t[i] = {i, tostring(i), i / 7, "
         "{k = i % 2 == 0}} end local j = cjson.encode(t) "
         "return {j, cjson.encode(cjson.decode(j)), cmsgpack.pack(t), "
         "cjson.encode(cmsgpack.unpack(cmsgpack.pack(t)))}", "0")
