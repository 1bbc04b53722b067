/*
 * Tests of the RSA public operation (core/ac_rsa.c) and of the RS* and PS*
 * signature checks built on it (core/ac_jws.c). Self-contained (no files,
 * no clock unless --bench) so the same program runs natively, under
 * ASan+UBSan, under ASan+UBSan built with -DAC_RSA_LANES (the 64-bit limbs
 * with products made of 32-bit ones that wasm takes) and with
 * -DAC_RSA_LIMB32 (32-bit limbs), and as WASI wasm under Node. Prints "ok - name" /
 * "not ok - name: where" per check group.
 *
 *  - ac_rsa_public against BearSSL's br_rsa_i31_public (the operation the
 *    core used before) on random inputs: 2048-, 3072- and 4096-bit moduli
 *    (the test keys below and random odd moduli) with e = 3, 17 and 65537,
 *    other lengths from 2049 to 4095 bits, moduli shaped to stress carries
 *    (all ones, 2^k + 1, ...), 4-byte exponents, and the edge values 0, 1,
 *    n - 1 and s >= n (refused by both; the input left untouched);
 *  - key setup refusals (ac_rsa_pub_init, and JWKs through ac_jwt_key_jwk)
 *    and that a key copied with memcpy works;
 *  - signatures made by OpenSSL (RS256/384/512, PS256/384/512 with 2048-,
 *    2049-, 3072- and 4096-bit keys) verify, and fail once altered;
 *  - EMSA-PKCS1-v1_5: encodings built here, well-formed and malformed,
 *    signed with BearSSL's private operation: ac_jws_check accepts exactly
 *    the two well-formed ones (DigestInfo parameters NULL or absent), and
 *    agrees with BearSSL's br_rsa_i31_pkcs1_vrfy plus a hash comparison,
 *    the check the core made before;
 *  - EMSA-PSS: encodings built here (RFC 8017 section 9.1.1) and signed
 *    likewise: sLen = hLen verifies; other salt lengths, a bad trailer,
 *    set top bits and flipped bits do not; signature length != modulus
 *    length and s >= n are refused;
 *  - natively, with -DAC_TEST_COUNT_HEAP: no heap call anywhere in this.
 *
 * --bench prints "# " lines with the time of one public operation here and
 * in BearSSL (not checks).
 *
 * Test keys (test use only, never for anything else; the 2048-bit one is
 * fixtures.h's), made on 2026-11-22:
 *   openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048
 *   openssl genpkey ... rsa_keygen_bits:3072 -pkeyopt rsa_keygen_pubexp:3
 *   openssl genpkey ... rsa_keygen_bits:4096 -pkeyopt rsa_keygen_pubexp:17
 * and a 2049-bit key (e = 65537) from two 1025-bit primes found with
 * Python's Miller-Rabin and checked by `openssl pkey -check` (OpenSSL 3.0's
 * genpkey made a 2048-bit key when asked for 2049 bits). The SIG_*
 * signatures over MSG were made with `openssl dgst -sha256|-sha384|-sha512
 * -sign` (PSS: -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest
 * -sigopt rsa_mgf1_md:<same hash>).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bearssl.h>

#include "authcore.h"
#include "ac_internal.h"

#include "fixtures.h"

/* ---- test keys and OpenSSL signatures (see the header comment) ---- */
static const char MSG[] =
    "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ."
    "eyJzdWIiOiJhbGljZSIsImF1ZCI6InJzYS10ZXN0In0";

static const char N2049[] =
    "0173c5fa3edb377019c1fbc8356c96c0340d94c61754060984f6ec80b355dbc4"
    "f1c4bc3517147122a2c0ada1b970aec297532d4d725c0fe189b76e632313a691"
    "0f6e2d496f8022ca53f641b3ca8ff45e18c54799514148ec764397403160164a"
    "39917e77afd26ddd80930dc61f26cebcb55d97051f0e4b4fda6c06795d13e073"
    "0c89858bbec9da60c18a5c8f464997db0f7390dec2db5e24886836bdc6f5835d"
    "5cb6a50496c7eebc0cbd94f32f1939785cd0b844d882baa771982a2ef2d93fa3"
    "15d55fb680f3f3581046801881edfc88d0a7003b30832b9b605db3bf0cca6810"
    "d1638a3f442b14d06e57e2e7a16253b5eee3593c6e96cebe55c18e1757398532"
    "4b";
static const char P2049[] =
    "0138e29188bc98905df7611b2c09387df6e5fdb53dad866d52806b6cf4f32585"
    "ffd210c4071332f8ced2489eb93b070500ce897ec2a5540b3a9d0d98963def6f"
    "78aa71e9b204a3194f4143a23d6190d416dc86685b1b1280600ce68808acc85b"
    "4616dc46c5b16fe1a56f4190e3d2ac71827fe4ed4d25f6ac854b2649470f10d2"
    "6d";
static const char Q2049[] =
    "01302e93db76e1c35b72e40702383af4d57b67a02e27cfa227079aa60e7be18e"
    "2512d51cf85732e2b1065dc953b3970ae073b6ba608fd8f682e7059b8909894c"
    "760a11f32caf02fcc285d01a1a37cb8da62ed0fe7b1a75d7fcd5dead0a22750f"
    "ecec045a34a3d2e68f90ba36990b0b8c8a325bb85c29b15e2ce0ca68ac49f0e4"
    "97";
static const char DP2049[] =
    "84c02c7b55796d9750c454a10470819165d795344c118304c413d030c591201f"
    "806338a8bfce9a9e35be3609e52f7f41ee5f8bf6cdeab0b0f7bdb305dbd560f8"
    "5368ed7c685742ffcb7304bd024e4e8e3c96926445423e518267b543e8fb412e"
    "a5b86416b0c8057709934a043f7886d895a6edc013e16b254ad33db7f67e6ea9";
static const char DQ2049[] =
    "5b0b95f5fa7f5899e6a999ef7025356330acb3a51d0568e385c32430f1a37188"
    "673aa29132886891d3f5fe6caf34666d083589539dbab30e3b57d2561224a65e"
    "2e657103cede76094344268bf2675ade82e4cb46cd84b84155427148b747929c"
    "b78815f7eb9114b1a40018977656de99feb8b555e0a4d62b589d3cf754aa65c1";
static const char IQ2049[] =
    "6d6be23f30bbb67bd0949472e5147690913c6db4eae5ddfe4c8fa66ce5ac035d"
    "522cf5d12a9032ccaa42474d4aa6d497cbff2e0a4caa3cd58576b76ac5494cdb"
    "9d1d6f1708851c5299101a35ac0cd762979770ba7dff78b9b2c286822c424ac3"
    "f16e1e3b08b8dd257dbc30708277f804412f54b9331842471d21c48fcb6a307e";
static const char N3072[] =
    "af1cff93695de68c7d26e8396027dd7a0d18c07cf1bb99652765fd8f38b44aaf"
    "dbd0904190e929e16cd46674ee126fd35c4118be3a733e18348fa45845ca01fd"
    "5b3dc2d7065aa3df8948c3f3a06d45eddbea654d9ca9102acbff617dfe194566"
    "a20aedcd4a99b7ff4ce9f55f5305d220801cc84ce9e3e6578a3cf9f963996b51"
    "1be81b799430539b6f102cf87422bc1adf71985859b52ff156ab85f1bc6abd5c"
    "5ca73a19087877a0556f1a6f9d9f12934a28c51b98e4b2fe4572746493d4c552"
    "b0cdbd15a6b367d6d4a065577050ee7cace06908639c5f80f984bd445c6c9c84"
    "095e12c66732ac317286543f9e55ceb4670cd68796784818a06487c95f2fc11d"
    "6b41f3b588c1522c08cf92745581b32f240c33daf728e96f4a81266cecef2836"
    "35ffb9387527dd482a146d62825cce552948488d8d77df0e8ac273a46aed6a71"
    "588452e31db4d356686cbc21d5dac88e9565076ab018888e5ec826e4d0fc0d86"
    "64a993e09f6e88d82dd885afaed9b90bd8af4aca50cd3622d7345a6779a7e527";
static const char N4096[] =
    "c78ba7010e307b9d7f21d4bb7ee037cded7960a312d11346336fa103b24b346e"
    "32bc03d1789215adedd45294243f1d832ce83d866d99c37266f38342e69c9fb3"
    "99d85a015fb8b24089a68bf5aa84463d8f24207b57b47c14b56b9af733f81555"
    "8a31d6fd885812e8f6c2a48325335eb039feb3bd8fa1f7376abbef613f881a5a"
    "dd83a48cdad8735630d473f752a8b1aefab3ee6adf294d791b037dcc7be26aa3"
    "f3f7d4bbdcda90f86ae6d6c29b006e59566849dc19e25b4f645730ed624cb00e"
    "acb15dcdf75fc9159676dcb1b167e82ddd92c092490003958189122ff60ca768"
    "d0a828eb0f51f61c272e8bd5c8c2b3ccdb2552b0110ea893be36aab70b4567d0"
    "497f4eb98bace6b5d64c7b52b3866c93a33e8c8f79d3f5d19548da09563650fe"
    "f456e5cd6d63a04edb6a938f7e5efb06bb462d725385ea86073fc642a35c1703"
    "72878bd873ade96bc14c443d77c5d9b6670c5b8dbcbe46d9999079511347fb6c"
    "5b4a8d457e9c3fc2ee2d867ffab89e440b58d1a90a9b3c8b99cf1ff41c18102f"
    "ca52ad9783e8de2881c81db0fc6d97eddc7dfdb1718e631d8631e526a4b79c46"
    "d7864df81cca1df9a1c09772e04eb03231b0522f2e830a31464472496bd0e0c1"
    "37418a1acdeefc956430338093c37fb4c4a5414672ff713cf3c38ddd7d12ffb1"
    "51196e3b77d20e112ef328a96919b42c05ac1ab022c165ba84b2a44455778555";
static const char SIG_2048_RS256[] =
    "5b1c40acce0bc42e0bc37151423ee958f50336197a645aa910ac187a19e69e92"
    "7b97ac963328a2c85d4a4e8688699f08e33b11cfb6b61c56496a050fbc4caa70"
    "7906514ac793c999a918b47991583fe85996b83133476066b4b1a5d4906faa4f"
    "d0a33101461d07fb01af1bc6515247e6acc7b55a24c7ef312bfb14be6a282719"
    "ef029447973b649776c871027b1a4b7892f7ff9926b68eb0e218a771a639a7c0"
    "dbf11692c77a317d9534c4f7cfedd564b7384035e60069ebc96c4311969b7210"
    "37a54dd941c7008075a972943526a8c38c5766364470030019ff110f7a3aa5c9"
    "02680ec47eda3bf0de427c92c6cb979d65002f90f26f8d7f5d97525bc43312af";
static const char SIG_2048_PS256[] =
    "9337e493c2473b2ce522ab20b5564596b7a17bd35f7ba2464026d7fe8eb719e6"
    "51f0db6c1e7ea1f4bef6eba3aefa01e3b986860e8e71ae4707cf603215faf6ad"
    "b5f4a3ac2c4517dbc3165131e764e70457361d74ab5ba0ff66c84edbb7a9c8bb"
    "e10efe19936588cdfa20cb98744b0db78e38c391893ecfdbd5ef760253b91726"
    "031d12c79fb5286df9e30f7fcb69866554431aef5529a53724a23f04234826d3"
    "cbdb3d48a395eb564bd58c3eb049e678b5cba5dfee1ff9f7258aa4a749838df8"
    "7fc2c6a697806074128d2873b7839342394425f282ecbba2b9f4587d7f1df4a2"
    "9d7df793580464a7f21865be9a4b5b4c2fbcdb77f49a53aa112ee6a3ac27191b";
static const char SIG_2049_RS256[] =
    "0163d6c65a536bd7b9bf4207e3527509bd14d36757500398629c5d818e75cc0e"
    "23fa1dd6eb74753f195b2ff8fe6b071531eb2a4939be9ded032ff1199effcdde"
    "7c6d4f42d3b4e46c33ce62040b1285dcf41a03cfd8f9971d3a087f04cf230efc"
    "2b4cecfeed87fd83748033054840bb52f4e2b7b5e1b3be4d6c1b60ef0e631bda"
    "933caefda804dbc3d4ae2d85e4e9864a33852ba25ed1ed9e4fb7bfc341220548"
    "47524a040240f5a61b71729ee94364182c7bafe07d7a577f364522e1cad0f6d2"
    "6e93e84885c75a89df347a993f97d75822bbce02c61f6c0166a0902bdd2e10f2"
    "0672630609c291f700f0b9775175e7575b7d509cef3be2bc5cb555fbdaf6365c"
    "2f";
static const char SIG_2049_PS256[] =
    "00ddff39b129815980d5cf3a15b94fc5452c163bde9effce3fc32e9f9422074b"
    "481221de625364ba16dd275236ca2ce798c993c98d2013da058ad795e2b6f1de"
    "4c7b4226088a1f759201077782b3f98ee15438e8743f281a316b53afa1af9c2c"
    "bf5c6635af6c911b1a2931a46d5b0d57fd190e01fda649dc7c71dc8465224dc8"
    "3e82f489542fbb335a3406d9d84e905e515cea50e62c85ebbe54c186216c1768"
    "02bb21cc6ccfded3a3f135c5c4266eaf502652d93490cb06bbd4a20a0ee29771"
    "8e34afa2c175a78a8c65e65db9d5a1152ff10bf808d39c03e1671bbf80fb7156"
    "396764267690c192c1ab6284af3c0592f4a5200d12dbbf47f041008f71d704b9"
    "b6";
static const char SIG_2049_PS512[] =
    "0130e4c49c31f054b0d4b407c9887f04c7e6fa00815887b5c36aed882e079c93"
    "e9506e9d1b7cecf3884735054e9108c07e5d46c56f8d7022776d1199fcb410f5"
    "789d3a26b96adc24cbb12bf14334afa52f9b6b830c5611435729163c08589213"
    "85fbf256e0cb6c572db19e8fa2c2fb2d01dedb9aa893e67bf52d04e26e29267f"
    "c7f690eb7290816c13683e6edc898a4d2fc8a8c4a70f263c0c7a1f51e5e584ee"
    "8544ea52d88ba81a6becde03af6bfc828345861fdac22dce01bbd0afa1067e04"
    "e695e64dc6dbed5b902f78b63ac60e1c571d5b24a674676fc2a0d3961d1884f6"
    "c02a02ce92bb3760f4ab251522a0069136c9a5c19fbf17e822a9d061320dc3ee"
    "8f";
static const char SIG_3072_RS384[] =
    "932f8e4def0c1730401521dcc693aebff877ecaa1ff9134168f5d757c12fa1d4"
    "857297adf27b6083edf0b699ff123029051b4a47e5c11d23eb27bf624105a4c5"
    "7e1c2e1ec88abd6e5ea5b22b9679f62e8879255c92d93e744e012fcf46f7dad5"
    "e815102039469ceb2549e8a2ec48f7f20a94fe5e56eccc25799bf7cc03d0469b"
    "b775bb3021a4d65979643c6229286c59cef62cfb7e69880dfa243292a309d3ee"
    "7a49e9f1e6daec52f7d3d254c0fc27d24a022ca684b975bd63bfe1fd9e0a91a2"
    "e5d49d97116351a8c3c3025abb8f399cfb3ed2fe0b098dbd9cd333fbc17e8d01"
    "878b1c0f6388e8c8d045d0702a88eff6c5bcd1c8e041d6b57965f1a841c400fb"
    "4db7a11d117defa85d18ecb0abb1614aae1223a8cecd5ab7075aabad2e01e577"
    "e6221370bdbac88a5f53c0611e1868785e8b894184e23089e5e165ab7352c495"
    "cc3a7c816ca86d3b24b5a5c8426d33a00aae462f4a4162f586f9f5bee7b18574"
    "2f2174fe45f229be0d93ff2c877874f72298c29bfbc002e021f334593f0fed6f";
static const char SIG_3072_PS384[] =
    "4eb0869b9b41ffc56a35ae20c74e724a8ec8c9dc45231b0f8264bc80a09a4319"
    "7915512a428619ae3a6767d30789c083008d77604e07d3c94960a414afbb713d"
    "b96b040609dfca8ec9cb619f7d2a6b6320c2ad92c49a9cd83a94a09dd0137c76"
    "3a86a692bd7ce320b1345552d2c060462eb80c19ae9f884dbfd65ab6f3153e1b"
    "05e12c456a1ecb7e2b102724c1e4ae85a3b997171a4dfd3428de0d86dc9f5a1a"
    "9c3a3bd7eebb0b906ceeae48dc19de25d3824e5630b6ad9609512705457b09b6"
    "3b0495d22294539af326c0d6e0f3abb986df13bc48972dffd859cad10a617c56"
    "50327c6c5b88018f7780c89bd982b0754c62ecb1ef20d2735fb2cc430c62735e"
    "913a1daafe5e71fc0304b1710bac02c9fcb5696342a6f44ce227a56a512a4515"
    "eeaf9a24c3366fde65e0997033fa5ba5dd7f2c0a5919dbb467d8f679bd07b1be"
    "c1c92bda3487ab3d8fb7f12454ec36be87362fb181b3eb0b03d1d62ad8c15871"
    "0bea75b1a9a708278c675a3a36d8c7020ca664323791f57c98ac0ddfdbc72052";
static const char SIG_4096_RS512[] =
    "33ebe184da2aef50435dc87d70e67473dc359f9a3a4c2ef1bfd5aca54701801b"
    "15e41da686b51839d1c1cde570ad085642574defb4b8b3412483c9defd13e930"
    "3759a3353ce9375876b71c752063cab061538632743c5aabca79c87dce2c537a"
    "bbded0d13de86ffc8c6d5d59c678edb003ef87bccd2581d01fd40dfdf762e220"
    "d4de29165e751f8643eecbf3211fb04781adf805a646503eddb1b25b36de6ccf"
    "7e55f2ea311e0a15796b3a35952a80b92153694a311ac70b8e24f39acafcd586"
    "b4f5260fbd52babfcc193f23ae290a231db18621c8a39db0103ca29293c64dd1"
    "70e672c56d704d4a8c840f80af0ccf9eb19a3c9550993cea916af069df82ce12"
    "cfd40bd94d2da7ed083a406b75d70adb17e4c5ba6ebbbbc7f8e69119bfd247d3"
    "a31445bb3878c6f08c03943c134319faf3c25eca71d46d5c2cde4dabc95edf37"
    "1d184911bfa2e00ce13d92041aa51a651505d0a28e0463bf6b82f8bb54852b76"
    "0f06bccaf34b2c6a2fde299c0064e8792a77b3f0947a22680985983f7bed9064"
    "884afb1615109db7d75d9c0db06c55d03fb83348d74ae852b677686d009e56f6"
    "7240fd4c7b422a4ca1ca6941bbd5da1defbb7398f59e9dd808e1f4c738f9d88b"
    "ad499366eb3b06580a4a0771521b5987bad8e57a085f9c3fc38853bb7880867d"
    "c800d8561ecfaec861ca7ca6ed970d430aac7e82cc787eaacde2edd655084293";
static const char SIG_4096_PS512[] =
    "5352ad2ce34bb454b9a92474f41a6a56149068e3cf50ae09e9bab7067692f786"
    "af3d3acb45d6bc91a2d51b4b3a3568c2b88d5886d05697f7e7167b6a0c849f46"
    "6bd5bdf59024e0f7432fe66c4b7172c8ca1e5f7f9a6b6ae40cd8593b5145ad24"
    "b167cb1c75d3b6ba0e9e54fdf4ac5edbcf931c4dde0a0dca221303169b8c3dac"
    "18bce3ee5c5e8d4a45abd67bcefea08579f601c63233df74f3283ddd4b1a3af1"
    "70618c0397c3c99eebbac4daa76ef6227b48a100b1c72e6b5eb1cca8515609eb"
    "80d2dbaa0d3d805c6c89c862a3ebaebbede19eb96b4b0139b7c9197ccc9ba801"
    "e463f778cd32b73947b36cd8bb4f710155b138d353fa2c56f469027aa8998b08"
    "6445fd4cd0ac51aca9bc99d75a861bc0a45d570c593b568a48578fd3351bc1ea"
    "9055aad79e0b65be44470591c779392ac74cf655337d0e6fb0dcdf799170b878"
    "358dc74c2f4b118f11772e9e1bb8df4d7ec0926ef8b8254e0e030e3ec0edc8b0"
    "c0b52a3518a12fabe019bba1766491a6c4a94f9e410d92986f15a5a4de4bf687"
    "6f9e42835ee0c21721fc313f77f9caefbe5bca49623d36ae4b6ccd27d39086e1"
    "bac44137701595f76afb85e2f10b98f736f9aa760730afc2cf1c26f7f9691bf5"
    "ba45b8248107f95fe0302ed3fe7e1eeb09509dec9b61b3ea3cc93c07644aa9b7"
    "bf67c9f5d7fe32cb395e08e2fb18f1f05d7e0092ec18b4d3f293e84d9c2d06f9";

/* ---- helpers ---- */
/* k from big-endian n and e (minimal bytes); ac_rsa_pub_init's result */
static int make_pub(ac_rsa_pub *k, const uint8_t *n, size_t nlen, uint32_t e)
{
	uint8_t eb[4];
	size_t el = 0, i;

	memset(k, 0, sizeof *k);
	for (i = 0; i < 4; i++) {
		uint8_t b = (uint8_t)(e >> (24 - 8 * i));
		if (b || el)
			eb[el++] = b;
	}
	if (nlen > sizeof k->n)
		return -1;
	memcpy(k->n, n, nlen);
	k->n_len = (uint32_t)nlen;
	memcpy(k->e, eb, el);
	k->e_len = (uint32_t)el;
	return ac_rsa_pub_init(k);
}

static br_rsa_public_key br_pub(const ac_rsa_pub *k)
{
	br_rsa_public_key pk;
	pk.n = (unsigned char *)(uintptr_t)k->n;
	pk.nlen = k->n_len;
	pk.e = (unsigned char *)(uintptr_t)k->e;
	pk.elen = k->e_len;
	return pk;
}

/* 1 if ac_rsa_public and br_rsa_i31_public agree on x[0..len): the same
 * verdict, the same result when accepted, x untouched when refused. */
static int agree(const ac_rsa_pub *k, const uint8_t *x, size_t len)
{
	uint8_t a[AC_RSA_MAX_BYTES + 1], b[AC_RSA_MAX_BYTES + 1];
	br_rsa_public_key pk = br_pub(k);
	uint32_t ra, rb;

	memcpy(a, x, len);
	memcpy(b, x, len);
	ra = (uint32_t)ac_rsa_public(k, a, len);
	rb = br_rsa_i31_public(b, len, &pk);
	if (ra != rb)
		return 0;
	return ra ? memcmp(a, b, len) == 0 : memcmp(a, x, len) == 0;
}

/* A random value below n (n[0] != 0), of len = n_len bytes; now and then
 * with leading zero bytes, so short values are covered too. */
static void rnd_below(uint8_t *x, const ac_rsa_pub *k)
{
	size_t len = k->n_len, z = 0;

	rnd_bytes(x, len);
	x[0] = (uint8_t)(rnd64() % k->n[0]);
	switch (rnd64() % 8) {
	case 0: z = len / 2; break;           /* half the limbs zero */
	case 1: z = len - 1 - (size_t)(rnd64() % 8); break; /* a few bytes */
	default: break;
	}
	memset(x, 0, z);
}

static const uint32_t EXPS[3] = { 3, 17, 65537 };

/* count random inputs for each of e = 3, 17, 65537 on modulus n */
static int xcheck_modulus(const uint8_t *n, size_t nlen, int count)
{
	ac_rsa_pub k;
	uint8_t x[AC_RSA_MAX_BYTES];
	int ok = 1, i, ei;

	for (ei = 0; ei < 3; ei++) {
		if (make_pub(&k, n, nlen, EXPS[ei]) != 0)
			return 0;
		for (i = 0; i < count; i++) {
			rnd_below(x, &k);
			ok &= agree(&k, x, nlen);
		}
	}
	return ok;
}

/* A random odd modulus of nlen bytes whose top byte is `top` (0: random). */
static void rnd_modulus(uint8_t *n, size_t nlen, uint8_t top)
{
	rnd_bytes(n, nlen);
	n[0] = top ? top : (uint8_t)(1 + rnd64() % 255);
	n[nlen - 1] |= 1;
}

static void test_xcheck_sizes(void)
{
	static const struct {
		const char *name;
		const char *hex;  /* a test key's modulus, or NULL: random */
		size_t nlen;
		uint8_t top;
		int count;        /* inputs per exponent */
	} T[] = {
		{ "2048-bit moduli", NULL, 0, 0, 0 }, /* a group's name */
		{ NULL, N2048, 0, 0, 200 },
		{ NULL, NULL, 256, 0x80, 150 },
		{ NULL, NULL, 256, 0xff, 150 },
		{ NULL, NULL, 256, 0, 150 },
		{ "3072-bit moduli", NULL, 0, 0, 0 },
		{ NULL, N3072, 0, 0, 150 },
		{ NULL, NULL, 384, 0x80, 100 },
		{ NULL, NULL, 384, 0, 100 },
		{ "4096-bit moduli", NULL, 0, 0, 0 },
		{ NULL, N4096, 0, 0, 100 },
		{ NULL, NULL, 512, 0x80, 60 },
		{ NULL, NULL, 512, 0, 60 },
		{ "moduli of 2049 to 4095 bits", NULL, 0, 0, 0 },
		{ NULL, N2049, 0, 0, 60 },
		{ NULL, NULL, 257, 0x01, 40 },
		{ NULL, NULL, 257, 0, 40 },
		{ NULL, NULL, 260, 0, 30 },
		{ NULL, NULL, 264, 0, 30 },
		{ NULL, NULL, 300, 0x03, 30 },
		{ NULL, NULL, 385, 0, 20 },
		{ NULL, NULL, 449, 0, 20 },
		{ NULL, NULL, 511, 0xfe, 20 },
		{ NULL, NULL, 512, 0x7f, 20 },
	};
	static char name[128]; /* check.h keeps a pointer to it */
	uint8_t n[AC_RSA_MAX_BYTES];
	size_t i, nlen;
	int total = 0, ok = 1;
	const char *group = NULL;

	for (i = 0; i <= sizeof T / sizeof T[0]; i++) {
		if (i == sizeof T / sizeof T[0] || T[i].name != NULL) {
			if (group != NULL) {
				snprintf(name, sizeof name,
				    "ac_rsa_public = br_rsa_i31_public: %s, "
				    "e = 3, 17, 65537, %d random inputs", group,
				    total);
				begin(name);
				CHECK(ok);
				end();
			}
			if (i == sizeof T / sizeof T[0])
				break;
			group = T[i].name;
			total = 0;
			ok = 1;
			continue;
		}
		if (T[i].hex != NULL) {
			nlen = from_hex(n, sizeof n, T[i].hex);
		} else {
			nlen = T[i].nlen;
			rnd_modulus(n, nlen, T[i].top);
		}
		ok &= xcheck_modulus(n, nlen, T[i].count);
		total += 3 * T[i].count;
	}
}

/* Moduli whose limbs are all ones or mostly zero: carries run the whole
 * length, and the final subtractions are taken or not at the boundary. */
static void test_xcheck_shapes(void)
{
	static const size_t LENS[] = { 256, 257, 384, 512 };
	uint8_t n[AC_RSA_MAX_BYTES];
	size_t li, nlen, shape;
	int ok = 1;

	begin("ac_rsa_public = br_rsa_i31_public: moduli 2^k - 1, 2^k + 1, "
	    "1 0..0 f..f, f..f 0..0 1");
	for (li = 0; li < sizeof LENS / sizeof LENS[0]; li++) {
		nlen = LENS[li];
		for (shape = 0; shape < 4; shape++) {
			switch (shape) {
			case 0: /* all ones */
				memset(n, 0xff, nlen);
				break;
			case 1: /* 2^k + 1 */
				memset(n, 0, nlen);
				n[0] = 0x80;
				n[nlen - 1] = 1;
				break;
			case 2: /* top bit, then zeros, then ones */
				memset(n, 0, nlen);
				memset(n + nlen / 2, 0xff, nlen - nlen / 2);
				n[0] = 0x01;
				break;
			default: /* ones, then zeros, then a final 1 */
				memset(n, 0xff, nlen / 2);
				memset(n + nlen / 2, 0, nlen - nlen / 2);
				n[nlen - 1] = 1;
				break;
			}
			ok &= xcheck_modulus(n, nlen, 10);
		}
	}
	CHECK(ok);
	end();
}

/* 4-byte exponents, and e = 65537 sent with a leading zero byte. */
static void test_xcheck_exponents(void)
{
	static const uint32_t E[] = { 5, 0x10001, 0x80000001u, 0xffffffffu,
		0x12345679 };
	ac_rsa_pub k;
	uint8_t n[AC_RSA_MAX_BYTES], x[AC_RSA_MAX_BYTES];
	size_t nlen = from_hex(n, sizeof n, N2048), i;
	int ok = 1, j;

	begin("ac_rsa_public = br_rsa_i31_public: e = 5, 2^31 + 1, 2^32 - 1, "
	    "0x12345679, 00 01 00 01");
	for (i = 0; i < sizeof E / sizeof E[0]; i++) {
		CHECK(make_pub(&k, n, nlen, E[i]) == 0);
		if (E[i] == 0x10001) {
			/* four bytes, leading zero: the same key */
			k.e[0] = 0;
			k.e[1] = 1;
			k.e[2] = 0;
			k.e[3] = 1;
			k.e_len = 4;
			CHECK(ac_rsa_pub_init(&k) == 0 && k.e_val == 65537);
		}
		for (j = 0; j < 20; j++) {
			rnd_below(x, &k);
			ok &= agree(&k, x, nlen);
		}
	}
	CHECK(ok);
	end();
}

/* 0, 1, 2, n - 2, n - 1 are computed; n, n + 1, all ones, a value above n
 * in the last byte only, and wrong lengths are refused (by both). */
static void test_edges(void)
{
	static const char *const HEX[] = { N2048, N2049, N3072, N4096 };
	ac_rsa_pub k;
	uint8_t n[AC_RSA_MAX_BYTES], x[AC_RSA_MAX_BYTES + 1];
	uint8_t y[AC_RSA_MAX_BYTES + 1];
	size_t h, nlen, i;
	int ei;

	begin("edge values: 0, 1, 2, n-2, n-1 computed (0 -> 0, 1 -> 1, "
	    "n-1 -> n-1); s >= n and wrong lengths refused, input untouched");
	for (h = 0; h < 4; h++) {
		nlen = from_hex(n, sizeof n, HEX[h]);
		for (ei = 0; ei < 3; ei++) {
			CHECK(make_pub(&k, n, nlen, EXPS[ei]) == 0);
			/* 0 and 1 are fixed points, n - 1 too (e is odd) */
			memset(x, 0, nlen);
			CHECK(agree(&k, x, nlen));
			memcpy(y, x, nlen);
			CHECK(ac_rsa_public(&k, y, nlen) == 1 &&
			    memcmp(x, y, nlen) == 0);
			x[nlen - 1] = 1;
			CHECK(agree(&k, x, nlen));
			memcpy(y, x, nlen);
			CHECK(ac_rsa_public(&k, y, nlen) == 1 &&
			    memcmp(x, y, nlen) == 0);
			x[nlen - 1] = 2;
			CHECK(agree(&k, x, nlen));
			memcpy(x, n, nlen);
			x[nlen - 1] = (uint8_t)(x[nlen - 1] - 1); /* n - 1 */
			CHECK(agree(&k, x, nlen));
			memcpy(y, x, nlen);
			CHECK(ac_rsa_public(&k, y, nlen) == 1 &&
			    memcmp(x, y, nlen) == 0);
			x[nlen - 1] = (uint8_t)(x[nlen - 1] - 1); /* n - 2 */
			CHECK(agree(&k, x, nlen));
			/* refused */
			memcpy(x, n, nlen);
			CHECK(agree(&k, x, nlen));
			CHECK(ac_rsa_public(&k, x, nlen) == 0);
			for (i = nlen; i-- > 0 && ++x[i] == 0;)
				; /* n + 1 */
			CHECK(agree(&k, x, nlen));
			CHECK(ac_rsa_public(&k, x, nlen) == 0);
			memset(x, 0xff, nlen);
			CHECK(agree(&k, x, nlen));
			CHECK(ac_rsa_public(&k, x, nlen) == 0);
			memcpy(x, n, nlen);
			if (x[0] < 0xff) {
				x[0]++;
				CHECK(ac_rsa_public(&k, x, nlen) == 0);
			}
			memset(x, 0, sizeof x);
			x[nlen - 1] = 1;
			CHECK(ac_rsa_public(&k, x, nlen - 1) == 0);
			CHECK(ac_rsa_public(&k, x, nlen + 1) == 0);
			CHECK(agree(&k, x, nlen - 1));
			for (i = 0; i + 1 < nlen; i++)
				CHECK(x[i] == 0);
		}
	}
	end();
}

static void test_init(void)
{
	ac_rsa_pub k, k2;
	uint8_t n[AC_RSA_MAX_BYTES], x[AC_RSA_MAX_BYTES], y[AC_RSA_MAX_BYTES];
	size_t nlen = from_hex(n, sizeof n, N2048);

	begin("ac_rsa_pub_init refuses even n, n = 1, a leading zero byte, "
	    "bad lengths, e even, e < 3; a memcpy'd key works");
	CHECK(make_pub(&k, n, nlen, 65537) == 0);
	CHECK(make_pub(&k, n, nlen, 3) == 0);
	CHECK(make_pub(&k, n, nlen, 1) == -1);
	CHECK(make_pub(&k, n, nlen, 2) == -1);
	CHECK(make_pub(&k, n, nlen, 65536) == -1);
	CHECK(make_pub(&k, n, nlen, 0) == -1); /* e_len 0 */
	n[nlen - 1] ^= 1;
	CHECK(make_pub(&k, n, nlen, 65537) == -1);
	n[nlen - 1] ^= 1;
	CHECK(make_pub(&k, n, 0, 65537) == -1);
	x[0] = 1;
	CHECK(make_pub(&k, x, 1, 65537) == -1);
	x[0] = 0;
	memcpy(x + 1, n + 1, nlen - 1);
	CHECK(make_pub(&k, x, nlen, 65537) == -1);
	CHECK(make_pub(&k, n, nlen, 65537) == 0);
	k.e_len = 5;
	CHECK(ac_rsa_pub_init(&k) == -1);
	k.n_len = AC_RSA_MAX_BYTES + 1;
	k.e_len = 3;
	CHECK(ac_rsa_pub_init(&k) == -1);
	/* a copy is a whole key: no pointers into itself */
	CHECK(make_pub(&k, n, nlen, 65537) == 0);
	memcpy(&k2, &k, sizeof k);
	memset(&k, 0xa5, sizeof k);
	rnd_below(x, &k2);
	memcpy(y, x, nlen);
	CHECK(agree(&k2, x, nlen));
	CHECK(ac_rsa_public(&k2, y, nlen) == 1);
	end();
}

/* ---- keys for the signature checks ---- */
static ac_jwt_key make_key(ac_alg alg, const char *n_hex, uint32_t e)
{
	uint8_t n[AC_RSA_MAX_BYTES], eb[4];
	char jwk[1024], nb[700], ebuf[8];
	size_t nlen = from_hex(n, sizeof n, n_hex), el = 0, i;
	ac_jwt_key key;
	const char *why = NULL;

	for (i = 0; i < 4; i++) {
		uint8_t b = (uint8_t)(e >> (24 - 8 * i));
		if (b || el)
			eb[el++] = b;
	}
	nb[ac_b64url_encode(nb, sizeof nb, n, nlen)] = 0;
	ebuf[ac_b64url_encode(ebuf, sizeof ebuf, eb, el)] = 0;
	snprintf(jwk, sizeof jwk,
	    "{\"kty\":\"RSA\",\"alg\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"}",
	    ac_alg_name(alg), nb, ebuf);
	if (ac_jwt_key_jwk(&key, alg, jwk, strlen(jwk), &why) != 0) {
		printf("# key refused: %s\n", why ? why : "?");
		memset(&key, 0, sizeof key);
	}
	return key;
}

static int check_sig(const ac_jwt_key *key, const uint8_t *sig, size_t len)
{
	return ac_jws_check(key, MSG, strlen(MSG), sig, len);
}

static void test_openssl_sigs(void)
{
	static const struct {
		ac_alg alg;
		const char *n;
		uint32_t e;
		const char *sig;
	} T[] = {
		{ AC_ALG_RS256, N2048, 65537, SIG_2048_RS256 },
		{ AC_ALG_PS256, N2048, 65537, SIG_2048_PS256 },
		{ AC_ALG_RS256, N2049, 65537, SIG_2049_RS256 },
		{ AC_ALG_PS256, N2049, 65537, SIG_2049_PS256 },
		{ AC_ALG_PS512, N2049, 65537, SIG_2049_PS512 },
		{ AC_ALG_RS384, N3072, 3, SIG_3072_RS384 },
		{ AC_ALG_PS384, N3072, 3, SIG_3072_PS384 },
		{ AC_ALG_RS512, N4096, 17, SIG_4096_RS512 },
		{ AC_ALG_PS512, N4096, 17, SIG_4096_PS512 },
	};
	uint8_t sig[AC_RSA_MAX_BYTES + 1];
	size_t i, len, b;
	ac_jwt_key key, wrong;

	begin("OpenSSL's RS256/384/512 and PS256/384/512 signatures (2048, "
	    "2049, 3072 e=3, 4096 e=17 bits) verify; altered ones do not");
	for (i = 0; i < sizeof T / sizeof T[0]; i++) {
		key = make_key(T[i].alg, T[i].n, T[i].e);
		len = from_hex(sig, sizeof sig, T[i].sig);
		CHECK(check_sig(&key, sig, len) == 1);
		CHECK(ac_jws_check(&key, MSG, strlen(MSG) - 1, sig, len) == 0);
		/* the other scheme, or another hash, under the same modulus */
		wrong = make_key(T[i].alg == AC_ALG_RS256 ? AC_ALG_PS256 :
		    AC_ALG_RS256, T[i].n, T[i].e);
		CHECK(check_sig(&wrong, sig, len) == 0);
		for (b = 0; b < len; b += len / 7) {
			sig[b] ^= (uint8_t)(1u << (b % 8));
			CHECK(check_sig(&key, sig, len) == 0);
			sig[b] ^= (uint8_t)(1u << (b % 8));
		}
		CHECK(check_sig(&key, sig, len - 1) == 0);
		sig[len] = 0;
		CHECK(check_sig(&key, sig, len + 1) == 0);
		CHECK(check_sig(&key, sig, len) == 1);
	}
	end();
}

/* ---- signing encodings made here (the keys: rsa_priv, fixtures.h) ---- */
/* sig = em^d mod n; 0 if em >= n (such an encoding cannot be signed) */
static int sign_raw(const rsa_priv *k, const uint8_t *em, uint8_t *sig)
{
	uint8_t n[AC_RSA_MAX_BYTES];

	from_hex(n, sizeof n, k->n_hex);
	if (memcmp(em, n, k->n_len) >= 0)
		return 0;
	memcpy(sig, em, k->n_len);
	return br_rsa_i31_private(sig, &k->sk) == 1;
}

static const br_hash_class *hash_of(size_t hl)
{
	return hl == 32 ? &br_sha256_vtable : hl == 48 ? &br_sha384_vtable :
	    &br_sha512_vtable;
}

static void hash_msg(size_t hl, const void *m, size_t len, uint8_t *out)
{
	br_hash_compat_context hc;
	const br_hash_class *h = hash_of(hl);

	h->init(&hc.vtable);
	h->update(&hc.vtable, m, len);
	h->out(&hc.vtable, out);
}

/* The ways an EMSA-PKCS1-v1_5 encoding is built or broken below. */
enum {
	P_NULL, P_ABSENT,          /* the two well-formed encodings */
	P_FIRST, P_TYPE2, P_PADBYTE, P_NOSEP, P_SHORTPAD, P_OTHER_OID,
	P_OUTER_LEN, P_ALG_LEN, P_HASH_LEN, P_HASHBIT, P_OTHER_MSG,
	P_NULL_01, P_ZERO_PAD, P_SHIFT, P_KINDS
};

static size_t build_pkcs1(uint8_t *em, size_t k, size_t hl, int kind)
{
	static const uint8_t oid[8] = { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
		0x04, 0x02 };
	uint8_t t[128], hash[64];
	size_t tl = 0, ps;
	int with_null = kind != P_ABSENT;
	int oid_last = hl == 32 ? 1 : hl == 48 ? 2 : 3;

	if (kind == P_OTHER_MSG)
		hash_msg(hl, "other", 5, hash);
	else
		hash_msg(hl, MSG, strlen(MSG), hash);
	if (kind == P_HASHBIT)
		hash[hl / 2] ^= 0x10;
	if (kind == P_OTHER_OID)
		oid_last = oid_last == 1 ? 2 : 1;
	t[tl++] = 0x30;
	t[tl++] = (uint8_t)((with_null ? 17 : 15) + hl + (kind == P_OUTER_LEN));
	t[tl++] = 0x30;
	t[tl++] = (uint8_t)((with_null ? 13 : 11) + (kind == P_ALG_LEN));
	t[tl++] = 0x06;
	t[tl++] = 0x09;
	memcpy(t + tl, oid, 8);
	tl += 8;
	t[tl++] = (uint8_t)oid_last;
	if (with_null) {
		t[tl++] = 0x05;
		t[tl++] = kind == P_NULL_01 ? 0x01 : 0x00;
	}
	t[tl++] = 0x04;
	t[tl++] = (uint8_t)(hl + (kind == P_HASH_LEN));
	memcpy(t + tl, hash, hl);
	tl += hl;
	/* 00 01 FF..FF 00 T */
	ps = k - 3 - tl;
	em[0] = 0x00;
	em[1] = 0x01;
	memset(em + 2, kind == P_ZERO_PAD ? 0x00 : 0xff, ps);
	em[2 + ps] = 0x00;
	memcpy(em + 3 + ps, t, tl);
	switch (kind) {
	case P_FIRST: em[0] = 0x01; break;
	case P_TYPE2: em[1] = 0x02; break;
	case P_PADBYTE: em[2 + ps / 2] = 0xfe; break;
	case P_NOSEP: em[2 + ps] = 0xff; break;
	case P_SHORTPAD:
		/* T moved up by 8 bytes, garbage after it: the padding too
		 * short for the length (Bleichenbacher's 2006 forgery shape) */
		memmove(em + 3 + ps - 8, t, tl);
		em[2 + ps - 8] = 0x00;
		memset(em + k - 8, 0x5a, 8);
		break;
	case P_SHIFT:
		/* the leading zero dropped, the rest moved up, 00 at the end */
		memmove(em, em + 1, k - 1);
		em[k - 1] = 0x00;
		break;
	default: break;
	}
	return k;
}

/* What the core did before: BearSSL's PKCS#1 v1.5 verifier and a
 * comparison of the hash it returns. */
static int old_pkcs1(const uint8_t *sig, size_t len, const ac_rsa_pub *k,
    size_t hl)
{
	br_rsa_public_key pk = br_pub(k);
	uint8_t got[64], want[64];
	const unsigned char *oid = hl == 32 ?
	    (const unsigned char *)BR_HASH_OID_SHA256 : hl == 48 ?
	    (const unsigned char *)BR_HASH_OID_SHA384 :
	    (const unsigned char *)BR_HASH_OID_SHA512;

	hash_msg(hl, MSG, strlen(MSG), want);
	if (!br_rsa_i31_pkcs1_vrfy(sig, len, oid, hl, &pk, got))
		return 0;
	return memcmp(got, want, hl) == 0;
}

static rsa_priv K2048, K2049;

static void test_pkcs1(void)
{
	static const ac_alg ALGS[3] = { AC_ALG_RS256, AC_ALG_RS384,
		AC_ALG_RS512 };
	const rsa_priv *keys[2] = { &K2048, &K2049 };
	uint8_t em[AC_RSA_MAX_BYTES], sig[AC_RSA_MAX_BYTES];
	size_t ki, ai, hl, i;
	int kind, signed_count = 0, r;
	ac_jwt_key key;
	ac_rsa_pub pub;
	uint8_t n[AC_RSA_MAX_BYTES];

	begin("EMSA-PKCS1-v1_5: exactly the two well-formed encodings verify, "
	    "as with BearSSL's br_rsa_i31_pkcs1_vrfy before (14 malformed "
	    "kinds, RS256/384/512, 2048 and 2049 bits)");
	for (ki = 0; ki < 2; ki++) {
		from_hex(n, sizeof n, keys[ki]->n_hex);
		CHECK(make_pub(&pub, n, keys[ki]->n_len, 65537) == 0);
		for (ai = 0; ai < 3; ai++) {
			hl = ac_alg_hash_len(ALGS[ai]);
			key = make_key(ALGS[ai], keys[ki]->n_hex, 65537);
			for (kind = 0; kind < P_KINDS; kind++) {
				build_pkcs1(em, keys[ki]->n_len, hl, kind);
				if (!sign_raw(keys[ki], em, sig))
					continue; /* em >= n */
				signed_count++;
				r = check_sig(&key, sig, keys[ki]->n_len);
				CHECK(r == (kind == P_NULL || kind == P_ABSENT));
				CHECK(r == old_pkcs1(sig, keys[ki]->n_len, &pub,
				    hl));
			}
			/* random signatures: both refuse */
			for (i = 0; i < 20; i++) {
				rnd_below(sig, &pub);
				CHECK(check_sig(&key, sig, keys[ki]->n_len) ==
				    old_pkcs1(sig, keys[ki]->n_len, &pub, hl));
			}
			/* s = n and s > n refused, as before */
			memcpy(sig, n, keys[ki]->n_len);
			CHECK(check_sig(&key, sig, keys[ki]->n_len) == 0);
			memset(sig, 0xff, keys[ki]->n_len);
			CHECK(check_sig(&key, sig, keys[ki]->n_len) == 0);
		}
	}
	CHECK(signed_count >= 2 * 3 * (P_KINDS - 1));
	end();
}

/* ---- EMSA-PSS-ENCODE (RFC 8017 section 9.1.1), MGF1 with the same hash */
static void mgf1_xor(size_t hl, const uint8_t *seed, uint8_t *buf,
    size_t len)
{
	uint8_t in[68], t[64];
	uint32_t c;
	size_t off = 0, i;

	memcpy(in, seed, hl);
	for (c = 0; off < len; c++) {
		in[hl] = (uint8_t)(c >> 24);
		in[hl + 1] = (uint8_t)(c >> 16);
		in[hl + 2] = (uint8_t)(c >> 8);
		in[hl + 3] = (uint8_t)c;
		hash_msg(hl, in, hl + 4, t);
		for (i = 0; i < hl && off < len; i++)
			buf[off++] ^= t[i];
	}
}

/* x[0..k) = the encoding, left-padded with zero bytes to k. */
static void build_pss(uint8_t *x, size_t k, unsigned mod_bits, size_t hl,
    size_t sl, const char *msg)
{
	unsigned em_bits = mod_bits - 1;
	size_t em_len = (em_bits + 7) / 8, db_len = em_len - hl - 1;
	uint8_t mp[8 + 64 + 65], *em = x + (k - em_len), *h;

	memset(x, 0, k);
	memset(mp, 0, 8);
	hash_msg(hl, msg, strlen(msg), mp + 8);
	rnd_bytes(mp + 8 + hl, sl);
	h = em + db_len;
	hash_msg(hl, mp, 8 + hl + sl, h);
	/* DB = PS || 01 || salt */
	memset(em, 0, db_len);
	em[db_len - sl - 1] = 0x01;
	memcpy(em + db_len - sl, mp + 8 + hl, sl);
	mgf1_xor(hl, h, em, db_len);
	em[0] &= (uint8_t)(0xffu >> (8 * em_len - em_bits));
	em[em_len - 1] = 0xbc;
}

static void test_pss(void)
{
	static const ac_alg ALGS[3] = { AC_ALG_PS256, AC_ALG_PS384,
		AC_ALG_PS512 };
	const rsa_priv *keys[2] = { &K2048, &K2049 };
	uint8_t x[AC_RSA_MAX_BYTES], sig[AC_RSA_MAX_BYTES];
	size_t ki, ai, hl, k, i;
	ac_jwt_key key;

	begin("EMSA-PSS: sLen = hLen verifies (PS256/384/512, 2048 and 2049 "
	    "bits); other salt lengths, trailer, top bits, flipped bits, "
	    "wrong length and s >= n do not");
	for (ki = 0; ki < 2; ki++) {
		k = keys[ki]->n_len;
		for (ai = 0; ai < 3; ai++) {
			hl = ac_alg_hash_len(ALGS[ai]);
			key = make_key(ALGS[ai], keys[ki]->n_hex, 65537);
			for (i = 0; i < 5; i++) {
				build_pss(x, k, keys[ki]->bits, hl, hl, MSG);
				CHECK(sign_raw(keys[ki], x, sig));
				CHECK(check_sig(&key, sig, k) == 1);
			}
			/* another message */
			build_pss(x, k, keys[ki]->bits, hl, hl, "other");
			CHECK(sign_raw(keys[ki], x, sig));
			CHECK(check_sig(&key, sig, k) == 0);
			/* salt lengths JWS does not use */
			build_pss(x, k, keys[ki]->bits, hl, 0, MSG);
			CHECK(sign_raw(keys[ki], x, sig));
			CHECK(check_sig(&key, sig, k) == 0);
			build_pss(x, k, keys[ki]->bits, hl, hl - 1, MSG);
			CHECK(sign_raw(keys[ki], x, sig));
			CHECK(check_sig(&key, sig, k) == 0);
			build_pss(x, k, keys[ki]->bits, hl, hl + 1, MSG);
			CHECK(sign_raw(keys[ki], x, sig));
			CHECK(check_sig(&key, sig, k) == 0);
			/* trailer */
			build_pss(x, k, keys[ki]->bits, hl, hl, MSG);
			x[k - 1] = 0xbd;
			CHECK(sign_raw(keys[ki], x, sig));
			CHECK(check_sig(&key, sig, k) == 0);
			/* the bits above emBits set (2048: the top bit of the
			 * encoding; 2049: the leading byte) */
			build_pss(x, k, keys[ki]->bits, hl, hl, MSG);
			x[0] |= keys[ki]->bits % 8 == 1 ? 0x01 : 0x80;
			if (sign_raw(keys[ki], x, sig))
				CHECK(check_sig(&key, sig, k) == 0);
			/* a flipped bit in H, in maskedDB */
			build_pss(x, k, keys[ki]->bits, hl, hl, MSG);
			x[k - 2] ^= 0x04;
			CHECK(sign_raw(keys[ki], x, sig));
			CHECK(check_sig(&key, sig, k) == 0);
			build_pss(x, k, keys[ki]->bits, hl, hl, MSG);
			x[k / 2] ^= 0x40;
			CHECK(sign_raw(keys[ki], x, sig));
			CHECK(check_sig(&key, sig, k) == 0);
			/* lengths and range */
			build_pss(x, k, keys[ki]->bits, hl, hl, MSG);
			CHECK(sign_raw(keys[ki], x, sig));
			CHECK(check_sig(&key, sig, k - 1) == 0);
			CHECK(check_sig(&key, sig + 1, k - 1) == 0);
			from_hex(sig, sizeof sig, keys[ki]->n_hex);
			CHECK(check_sig(&key, sig, k) == 0);
			memset(sig, 0xff, k);
			CHECK(check_sig(&key, sig, k) == 0);
		}
	}
	end();
}

#ifdef AC_TEST_COUNT_HEAP
static void test_no_heap(void)
{
	uint8_t x[AC_RSA_MAX_BYTES], sig[AC_RSA_MAX_BYTES];
	size_t before, len;
	ac_rsa_pub k;
	ac_jwt_key key;
	int r = 0;

	begin("no heap call while loading RSA keys and checking RS/PS "
	    "signatures");
	before = heap_calls;
	r |= make_pub(&k, x, from_hex(x, sizeof x, N4096), 17);
	rnd_below(x, &k);
	r |= ac_rsa_public(&k, x, k.n_len) != 1;
	key = make_key(AC_ALG_PS384, N3072, 3);
	len = from_hex(sig, sizeof sig, SIG_3072_PS384);
	r |= check_sig(&key, sig, len) != 1;
	key = make_key(AC_ALG_RS256, N2049, 65537);
	len = from_hex(sig, sizeof sig, SIG_2049_RS256);
	r |= check_sig(&key, sig, len) != 1;
	CHECK(heap_calls == before);
	CHECK(r == 0);
	{
		void *volatile p = malloc(16);
		free(p);
	}
	CHECK(heap_calls == before + 2);
	end();
}
#endif

/* ---- --bench ---- */
static void bench(void)
{
	static const struct {
		const char *name, *hex;
		uint32_t e;
	} T[] = {
		{ "2048-bit, e = 65537", N2048, 65537 },
		{ "3072-bit, e = 65537", N3072, 65537 },
		{ "4096-bit, e = 65537", N4096, 65537 },
		{ "3072-bit, e = 3", N3072, 3 },
	};
	ac_rsa_pub k;
	uint8_t n[AC_RSA_MAX_BYTES], x[AC_RSA_MAX_BYTES];
	br_rsa_public_key pk;
	size_t i, nlen;
	int j, r, runs;
	double t0, best_ac, best_br, best_init;

	printf("# limbs of %d bits%s\n", AC_LIMB_BITS,
#if defined(__wasm__) || defined(AC_RSA_LANES)
	    AC_LIMB_BITS == 64 ? ", products of 32-bit ones" :
#endif
	    "");
	for (i = 0; i < sizeof T / sizeof T[0]; i++) {
		nlen = from_hex(n, sizeof n, T[i].hex);
		best_ac = best_br = best_init = 1e30;
		runs = 200;
		for (r = 0; r < 5; r++) {
			t0 = now_us();
			for (j = 0; j < 20; j++)
				(void)make_pub(&k, n, nlen, T[i].e);
			t0 = (now_us() - t0) / 20;
			best_init = t0 < best_init ? t0 : best_init;
			rnd_below(x, &k);
			t0 = now_us();
			for (j = 0; j < runs; j++)
				(void)ac_rsa_public(&k, x, nlen);
			t0 = (now_us() - t0) / runs;
			best_ac = t0 < best_ac ? t0 : best_ac;
			pk = br_pub(&k);
			t0 = now_us();
			for (j = 0; j < runs / 10; j++)
				(void)br_rsa_i31_public(x, nlen, &pk);
			t0 = (now_us() - t0) / (runs / 10);
			best_br = t0 < best_br ? t0 : best_br;
		}
		printf("# %s: ac_rsa_public %.1f us, br_rsa_i31_public %.1f us, "
		    "key setup %.1f us (best of 5)\n", T[i].name, best_ac,
		    best_br, best_init);
	}
}

int main(int argc, char **argv)
{
	/* a fixed seed: every run (and every build) tests the same values */
	rng_state = 0x2545f4914f6cdd1dull;
	load_priv(&K2048, 2048, N2048, P2048, Q2048, DP2048, DQ2048, IQ2048);
	load_priv(&K2049, 2049, N2049, P2049, Q2049, DP2049, DQ2049, IQ2049);
	if (argc >= 2 && strcmp(argv[1], "--bench") == 0) {
		bench();
		return 0;
	}
	test_init();
	test_edges();
	test_xcheck_exponents();
	test_xcheck_shapes();
	test_xcheck_sizes();
	test_openssl_sigs();
	test_pkcs1();
	test_pss();
#ifdef AC_TEST_COUNT_HEAP
	test_no_heap();
#endif
	printf("# %d failed\n", failures);
	return failures ? 1 : 0;
}
