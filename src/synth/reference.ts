/**
 * Reference tables for the synthetic data: municipalities, diseases, drugs, lab tests, departments.
 *
 * Municipality codes (全国地方公共団体コード, 5 digits without the check digit), postal codes and
 * ICD-10 codes are real. Disease codes of the レセプト電算 master (7 digits), MEDIS 病名交換コード
 * (8 digits), HOT9 and YJ drug codes and JLAC10 lab codes have the real formats, and the lab analyte
 * codes are the real JLAC10 ones, but the remaining digits are not guaranteed to match the masters:
 * this is synthetic data for testing, never a code table to rely on.
 */

export interface Municipality {
  readonly code: string
  readonly prefecture: string
  readonly prefectureKana: string
  readonly city: string
  readonly cityKana: string
  readonly town: string
  readonly postal: string
  /** Relative population, for drawing residents. */
  readonly weight: number
}

const m = (
  code: string,
  prefecture: string,
  prefectureKana: string,
  city: string,
  cityKana: string,
  town: string,
  postal: string,
  weight: number,
): Municipality => ({ code, prefecture, prefectureKana, city, cityKana, town, postal, weight })

export const MUNICIPALITIES: readonly Municipality[] = [
  m('01101', '北海道', 'ホッカイドウ', '札幌市中央区', 'サッポロシチュウオウク', '北一条西', '060-0001', 25),
  m('02201', '青森県', 'アオモリケン', '青森市', 'アオモリシ', '新町', '030-0801', 27),
  m('04101', '宮城県', 'ミヤギケン', '仙台市青葉区', 'センダイシアオバク', '中央', '980-0021', 31),
  m('05201', '秋田県', 'アキタケン', '秋田市', 'アキタシ', '中通', '010-0001', 30),
  m('11103', '埼玉県', 'サイタマケン', 'さいたま市大宮区', 'サイタマシオオミヤク', '桜木町', '330-0854', 12),
  m('12101', '千葉県', 'チバケン', '千葉市中央区', 'チバシチュウオウク', '中央', '260-0013', 21),
  m('13101', '東京都', 'トウキョウト', '千代田区', 'チヨダク', '千代田', '100-0001', 7),
  m('13102', '東京都', 'トウキョウト', '中央区', 'チュウオウク', '銀座', '104-0061', 17),
  m('13103', '東京都', 'トウキョウト', '港区', 'ミナトク', '芝公園', '105-0011', 26),
  m('13104', '東京都', 'トウキョウト', '新宿区', 'シンジュクク', '西新宿', '160-0023', 35),
  m('13105', '東京都', 'トウキョウト', '文京区', 'ブンキョウク', '本郷', '113-0033', 24),
  m('13113', '東京都', 'トウキョウト', '渋谷区', 'シブヤク', '道玄坂', '150-0043', 23),
  m('13116', '東京都', 'トウキョウト', '豊島区', 'トシマク', '東池袋', '170-0013', 30),
  m('13203', '東京都', 'トウキョウト', '武蔵野市', 'ムサシノシ', '吉祥寺本町', '180-0004', 15),
  m('14103', '神奈川県', 'カナガワケン', '横浜市西区', 'ヨコハマシニシク', '高島', '220-0011', 10),
  m('14104', '神奈川県', 'カナガワケン', '横浜市中区', 'ヨコハマシナカク', '山下町', '231-0023', 15),
  m('14131', '神奈川県', 'カナガワケン', '川崎市川崎区', 'カワサキシカワサキク', '駅前本町', '210-0007', 23),
  m('17201', '石川県', 'イシカワケン', '金沢市', 'カナザワシ', '本町', '920-0853', 45),
  m('20201', '長野県', 'ナガノケン', '長野市', 'ナガノシ', '南千歳', '380-0823', 37),
  m('22101', '静岡県', 'シズオカケン', '静岡市葵区', 'シズオカシアオイク', '追手町', '420-0853', 25),
  m('23105', '愛知県', 'アイチケン', '名古屋市中村区', 'ナゴヤシナカムラク', '名駅', '450-0002', 14),
  m('23106', '愛知県', 'アイチケン', '名古屋市中区', 'ナゴヤシナカク', '栄', '460-0008', 9),
  m('26106', '京都府', 'キョウトフ', '京都市下京区', 'キョウトシシモギョウク', '東塩小路町', '600-8216', 8),
  m('27127', '大阪府', 'オオサカフ', '大阪市北区', 'オオサカシキタク', '梅田', '530-0001', 14),
  m('28110', '兵庫県', 'ヒョウゴケン', '神戸市中央区', 'コウベシチュウオウク', '加納町', '650-0001', 14),
  m('33101', '岡山県', 'オカヤマケン', '岡山市北区', 'オカヤマシキタク', '駅元町', '700-0024', 30),
  m('34101', '広島県', 'ヒロシマケン', '広島市中区', 'ヒロシマシナカク', '基町', '730-0011', 14),
  m('38201', '愛媛県', 'エヒメケン', '松山市', 'マツヤマシ', '一番町', '790-0001', 50),
  m('37201', '香川県', 'カガワケン', '高松市', 'タカマツシ', '浜ノ町', '760-0011', 42),
  m(
    '40106',
    '福岡県',
    'フクオカケン',
    '北九州市小倉北区',
    'キタキュウシュウシコクラキタク',
    '浅野',
    '802-0001',
    18,
  ),
  m('40132', '福岡県', 'フクオカケン', '福岡市博多区', 'フクオカシハカタク', '博多駅前', '812-0011', 24),
  m('40133', '福岡県', 'フクオカケン', '福岡市中央区', 'フクオカシチュウオウク', '天神', '810-0001', 20),
  m('43101', '熊本県', 'クマモトケン', '熊本市中央区', 'クマモトシチュウオウク', '花畑町', '860-0806', 18),
  m('46201', '鹿児島県', 'カゴシマケン', '鹿児島市', 'カゴシマシ', '中央町', '890-0053', 59),
  m('47201', '沖縄県', 'オキナワケン', '那覇市', 'ナハシ', '久茂地', '900-0015', 32),
]

export interface Disease {
  readonly icd10: string
  readonly name: string
  /** 7-digit code in the format of the レセプト電算処理 disease master. */
  readonly receiptCode: string
  /** 8-digit code in the format of the MEDIS 病名交換コード. */
  readonly medisCode: string
  /** Yearly chance of having it at age 70 (scaled down for the young); rare ones are tiny. */
  readonly prevalence70: number
  readonly chronic: boolean
  /** Care usually needs an admission. */
  readonly admission?: boolean
  readonly imaging?: 'CT' | 'MR' | 'CR'
  readonly drugs?: readonly string[]
  readonly labs?: readonly string[]
}

const d = (
  icd10: string,
  name: string,
  receiptCode: string,
  medisCode: string,
  prevalence70: number,
  chronic: boolean,
  extra: Partial<Pick<Disease, 'admission' | 'imaging' | 'drugs' | 'labs'>> = {},
): Disease => ({ icd10, name, receiptCode, medisCode, prevalence70, chronic, ...extra })

export const DISEASES: readonly Disease[] = [
  d('I10', '本態性高血圧症', '4019004', '20062415', 0.45, true, {
    drugs: ['amlodipine', 'olmesartan'],
    labs: ['cre'],
  }),
  d('E11.9', '２型糖尿病・合併症なし', '2500015', '20057123', 0.14, true, {
    drugs: ['metformin', 'sitagliptin'],
    labs: ['hba1c', 'glu'],
  }),
  d('E11.2', '２型糖尿病性腎症', '2500702', '20057126', 0.03, true, {
    drugs: ['metformin', 'insulin'],
    labs: ['hba1c', 'cre'],
  }),
  d('E78.5', '脂質異常症', '2724004', '20061512', 0.3, true, {
    drugs: ['atorvastatin'],
    labs: ['ldl', 'hdl', 'tg'],
  }),
  d('K29.7', '胃炎', '5353010', '20054174', 0.08, false, { drugs: ['famotidine'] }),
  d('K21.9', '逆流性食道炎', '5301010', '20055633', 0.06, true, { drugs: ['lansoprazole'] }),
  d('J45.9', '気管支喘息', '4939004', '20060101', 0.04, true, { drugs: ['fluticasone'] }),
  d('N18.3', '慢性腎臓病ステージ３', '5859008', '20064251', 0.05, true, { labs: ['cre', 'bun'] }),
  d('I50.9', '心不全', '4289010', '20058741', 0.03, true, {
    admission: true,
    imaging: 'CR',
    drugs: ['furosemide'],
  }),
  d('I48.9', '心房細動', '4273006', '20058602', 0.03, true, { drugs: ['apixaban'] }),
  d('M81.0', '閉経後骨粗鬆症', '7330010', '20064990', 0.1, true, { drugs: ['alendronate'] }),
  d('F32.9', 'うつ病', '2961003', '20050961', 0.03, true, { drugs: ['sertraline'] }),
  d('G47.0', '不眠症', '7805006', '20051552', 0.07, true, { drugs: ['zolpidem'] }),
  d('H25.9', '老人性白内障', '3661005', '20052861', 0.15, false),
  d('J20.9', '急性気管支炎', '4660002', '20060015', 0.05, false, { drugs: ['carbocisteine'] }),
  d('J11.1', 'インフルエンザ', '4871010', '20060302', 0.05, false, { drugs: ['oseltamivir'] }),
  d('J18.9', '肺炎', '4860002', '20060112', 0.02, false, {
    admission: true,
    imaging: 'CT',
    drugs: ['ceftriaxone'],
    labs: ['crp', 'wbc'],
  }),
  d('I63.9', '脳梗塞', '4349003', '20058904', 0.01, false, {
    admission: true,
    imaging: 'MR',
    drugs: ['clopidogrel'],
  }),
  d('I20.9', '狭心症', '4139007', '20058402', 0.03, true, { imaging: 'CT', drugs: ['nitroglycerin'] }),
  d('M10.9', '痛風', '2749008', '20064701', 0.02, true, { drugs: ['febuxostat'], labs: ['ua'] }),
  d('M17.9', '変形性膝関節症', '7153005', '20064402', 0.12, true, { imaging: 'CR', drugs: ['loxoprofen'] }),
  d('S72.0', '大腿骨頚部骨折', '8208003', '20065802', 0.004, false, { admission: true, imaging: 'CR' }),
  // The rare tail: unique descriptions that anonymization must notice.
  d('D86.9', 'サルコイドーシス', '1359002', '20052101', 0.0004, true, { imaging: 'CT' }),
  d('M32.9', '全身性エリテマトーデス', '7100003', '20064622', 0.0003, true),
  d('G70.0', '重症筋無力症', '3580002', '20052502', 0.0002, true),
  d('G12.2', '筋萎縮性側索硬化症', '3352002', '20052302', 0.0001, true, { admission: true }),
  d('M35.2', 'ベーチェット病', '1361001', '20064645', 0.0002, true),
  d('I67.5', 'もやもや病', '4375001', '20058925', 0.0001, true, { imaging: 'MR' }),
  d('M31.4', '高安動脈炎', '4461001', '20064633', 0.0001, true),
  d('E22.0', '先端巨大症', '2530001', '20056815', 0.00008, true, { imaging: 'MR' }),
]

/** The rare tail (under 1 in 1 000 at 70): unique descriptions anonymization must notice. */
export const RARE_ICD10: ReadonlySet<string> = new Set(
  DISEASES.filter((x) => x.prevalence70 < 0.001).map((x) => x.icd10),
)

export interface Drug {
  readonly key: string
  readonly name: string
  readonly hot9: string
  /** 12-character YJ code (薬価基準収載医薬品コード format). */
  readonly yj: string
  /** 9-digit レセプト電算 drug code. */
  readonly receiptCode: string
  readonly dose: number
  readonly unit: string
  readonly unitCode: string
  readonly route: 'PO' | 'IV' | 'INH' | 'SC' | 'SL'
  /** 用法 text for TQ1. */
  readonly usage: string
}

const r = (
  key: string,
  name: string,
  hot9: string,
  yj: string,
  receiptCode: string,
  dose: number,
  unit: string,
  unitCode: string,
  route: Drug['route'],
  usage: string,
): Drug => ({ key, name, hot9, yj, receiptCode, dose, unit, unitCode, route, usage })

export const DRUGS: readonly Drug[] = [
  r(
    'amlodipine',
    'アムロジピン錠５ｍｇ',
    '107236101',
    '2171022F2020',
    '610443040',
    1,
    '錠',
    'TAB',
    'PO',
    '１日１回朝食後',
  ),
  r(
    'olmesartan',
    'オルメサルタン錠２０ｍｇ',
    '116813201',
    '2149044F2020',
    '620007310',
    1,
    '錠',
    'TAB',
    'PO',
    '１日１回朝食後',
  ),
  r(
    'metformin',
    'メトホルミン塩酸塩錠２５０ｍｇ',
    '105834501',
    '3962002F1020',
    '620008731',
    3,
    '錠',
    'TAB',
    'PO',
    '１日３回毎食後',
  ),
  r(
    'sitagliptin',
    'シタグリプチン錠５０ｍｇ',
    '118513001',
    '3969010F2020',
    '622003101',
    1,
    '錠',
    'TAB',
    'PO',
    '１日１回朝食後',
  ),
  r(
    'insulin',
    'インスリン　グラルギン注',
    '116946801',
    '2492415G1020',
    '621999101',
    10,
    '単位',
    'U',
    'SC',
    '１日１回就寝前',
  ),
  r(
    'atorvastatin',
    'アトルバスタチン錠１０ｍｇ',
    '114693601',
    '2189015F2020',
    '620004522',
    1,
    '錠',
    'TAB',
    'PO',
    '１日１回夕食後',
  ),
  r(
    'famotidine',
    'ファモチジン錠２０ｍｇ',
    '106304201',
    '2325003F2020',
    '610432012',
    2,
    '錠',
    'TAB',
    'PO',
    '１日２回朝夕食後',
  ),
  r(
    'lansoprazole',
    'ランソプラゾールＯＤ錠１５ｍｇ',
    '111932201',
    '2329023F3020',
    '620003401',
    1,
    '錠',
    'TAB',
    'PO',
    '１日１回朝食後',
  ),
  r(
    'fluticasone',
    'フルチカゾン吸入用',
    '113211501',
    '2290701G1020',
    '620001901',
    2,
    '吸入',
    'INH',
    'INH',
    '１日２回朝夕',
  ),
  r(
    'furosemide',
    'フロセミド錠２０ｍｇ',
    '100654101',
    '2139005F1020',
    '610463146',
    1,
    '錠',
    'TAB',
    'PO',
    '１日１回朝食後',
  ),
  r(
    'apixaban',
    'アピキサバン錠５ｍｇ',
    '122009201',
    '3339003F2020',
    '622200801',
    2,
    '錠',
    'TAB',
    'PO',
    '１日２回朝夕食後',
  ),
  r(
    'alendronate',
    'アレンドロン酸錠３５ｍｇ',
    '113998601',
    '3999018F3020',
    '620002404',
    1,
    '錠',
    'TAB',
    'PO',
    '週１回起床時',
  ),
  r(
    'sertraline',
    'セルトラリン錠２５ｍｇ',
    '116219401',
    '1179046F1020',
    '620002601',
    1,
    '錠',
    'TAB',
    'PO',
    '１日１回夕食後',
  ),
  r(
    'zolpidem',
    'ゾルピデム酒石酸塩錠５ｍｇ',
    '112488101',
    '1129009F1020',
    '610406063',
    1,
    '錠',
    'TAB',
    'PO',
    '１日１回就寝前',
  ),
  r(
    'carbocisteine',
    'カルボシステイン錠５００ｍｇ',
    '105006701',
    '2233002F2020',
    '620002026',
    3,
    '錠',
    'TAB',
    'PO',
    '１日３回毎食後',
  ),
  r(
    'oseltamivir',
    'オセルタミビルカプセル７５ｍｇ',
    '112758401',
    '6250021M1020',
    '610412011',
    2,
    'カプセル',
    'CAP',
    'PO',
    '１日２回朝夕食後',
  ),
  r(
    'ceftriaxone',
    'セフトリアキソンナトリウム静注用１ｇ',
    '104948101',
    '6132419F1020',
    '620007601',
    2,
    '瓶',
    'VIA',
    'IV',
    '１日１回点滴静注',
  ),
  r(
    'clopidogrel',
    'クロピドグレル錠７５ｍｇ',
    '115838201',
    '3399008F2020',
    '620004101',
    1,
    '錠',
    'TAB',
    'PO',
    '１日１回朝食後',
  ),
  r(
    'nitroglycerin',
    'ニトログリセリン舌下錠０．３ｍｇ',
    '105291201',
    '2171010F1020',
    '620000301',
    1,
    '錠',
    'TAB',
    'SL',
    '発作時',
  ),
  r(
    'febuxostat',
    'フェブキソスタット錠２０ｍｇ',
    '120698801',
    '3949003F2020',
    '622034901',
    1,
    '錠',
    'TAB',
    'PO',
    '１日１回朝食後',
  ),
  r(
    'loxoprofen',
    'ロキソプロフェンナトリウム錠６０ｍｇ',
    '101966301',
    '1149019F1020',
    '620098801',
    3,
    '錠',
    'TAB',
    'PO',
    '１日３回毎食後',
  ),
]

export interface LabTest {
  readonly key: string
  readonly name: string
  /** 17-character JLAC10 code; the first five characters are the real analyte code. */
  readonly jlac10: string
  readonly unit: string
  readonly low: number
  readonly high: number
  readonly decimals: number
}

const l = (
  key: string,
  name: string,
  jlac10: string,
  unit: string,
  low: number,
  high: number,
  decimals: number,
): LabTest => ({
  key,
  name,
  jlac10,
  unit,
  low,
  high,
  decimals,
})

export const LAB_TESTS: readonly LabTest[] = [
  l('hba1c', 'ＨｂＡ１ｃ（ＮＧＳＰ）', '3D046000001906202', '%', 4.6, 6.2, 1),
  l('glu', 'グルコース', '3D010000002227101', 'mg/dL', 73, 109, 0),
  l('ldl', 'ＬＤＬ－コレステロール', '3F077000002327101', 'mg/dL', 65, 139, 0),
  l('hdl', 'ＨＤＬ－コレステロール', '3F070000002327101', 'mg/dL', 40, 90, 0),
  l('tg', '中性脂肪', '3F015000002327101', 'mg/dL', 40, 149, 0),
  l('cre', 'クレアチニン', '3C015000002327101', 'mg/dL', 0.46, 1.07, 2),
  l('bun', '尿素窒素', '3C025000002327101', 'mg/dL', 8, 20, 1),
  l('ua', '尿酸', '3C020000002327101', 'mg/dL', 2.6, 7.0, 1),
  l('crp', 'ＣＲＰ', '5C070000002306001', 'mg/dL', 0, 0.14, 2),
  l('wbc', '白血球数', '2A990000001930952', '10^3/uL', 3.3, 8.6, 1),
  l('ast', 'ＡＳＴ', '3B035000002327201', 'U/L', 13, 30, 0),
  l('alt', 'ＡＬＴ', '3B045000002327201', 'U/L', 7, 23, 0),
]

export const DEPARTMENTS: ReadonlyArray<{ readonly code: string; readonly name: string }> = [
  { code: '01', name: '内科' },
  { code: '02', name: '循環器内科' },
  { code: '03', name: '消化器内科' },
  { code: '05', name: '整形外科' },
  { code: '07', name: '眼科' },
  { code: '09', name: '精神科' },
  { code: '10', name: '脳神経外科' },
  { code: '12', name: '呼吸器内科' },
]

/** Drug-event pairs with a fixed onset interval, for the post-marketing safety use (DESIGN §1.3). */
export const ADVERSE_EVENTS: ReadonlyArray<{
  readonly drug: string
  readonly icd10: string
  readonly name: string
  readonly receiptCode: string
  readonly medisCode: string
  readonly intervalDays: number
  readonly rate: number
}> = [
  {
    drug: 'sitagliptin',
    icd10: 'L12.0',
    name: '水疱性類天疱瘡',
    receiptCode: '6945002',
    medisCode: '20063801',
    intervalDays: 84,
    rate: 0.08,
  },
  {
    drug: 'amlodipine',
    icd10: 'R60.0',
    name: '下腿浮腫',
    receiptCode: '7823005',
    medisCode: '20066301',
    intervalDays: 21,
    rate: 0.06,
  },
  {
    drug: 'loxoprofen',
    icd10: 'K25.9',
    name: '胃潰瘍',
    receiptCode: '5319009',
    medisCode: '20054120',
    intervalDays: 14,
    rate: 0.05,
  },
]

/** Hospital names are drawn from these parts (fictional: no real hospital is named). */
export const HOSPITAL_NAME_PARTS = {
  prefix: [
    'さくら',
    'あおば',
    'みどり',
    'ひかり',
    '中央',
    '東部',
    '西部',
    '南',
    '北',
    '臨海',
    '山手',
    'みなと',
  ],
  suffix: ['総合病院', '記念病院', '医療センター', '病院', 'クリニック', '市民病院', '大学病院'],
}
