/** The 47 prefectures (都道府県) in the order of their JIS X 0401 codes: index + 1 is the code. */
export const PREFECTURES = [
  '北海道',
  '青森県',
  '岩手県',
  '宮城県',
  '秋田県',
  '山形県',
  '福島県',
  '茨城県',
  '栃木県',
  '群馬県',
  '埼玉県',
  '千葉県',
  '東京都',
  '神奈川県',
  '新潟県',
  '富山県',
  '石川県',
  '福井県',
  '山梨県',
  '長野県',
  '岐阜県',
  '静岡県',
  '愛知県',
  '三重県',
  '滋賀県',
  '京都府',
  '大阪府',
  '兵庫県',
  '奈良県',
  '和歌山県',
  '鳥取県',
  '島根県',
  '岡山県',
  '広島県',
  '山口県',
  '徳島県',
  '香川県',
  '愛媛県',
  '高知県',
  '福岡県',
  '佐賀県',
  '長崎県',
  '熊本県',
  '大分県',
  '宮崎県',
  '鹿児島県',
  '沖縄県',
] as const

/** The prefecture of a JIS X 0401 code (`13` → 東京都), or undefined. */
export function prefectureName(code: string | number): string | undefined {
  const n = typeof code === 'number' ? code : /^\d{2}$/.test(code) ? Number(code) : Number.NaN
  return PREFECTURES[n - 1]
}

/** The eight regions (地方区分) of the prefectures, by JIS X 0401 code. */
const REGIONS: ReadonlyArray<readonly [string, number, number]> = [
  ['北海道地方', 1, 1],
  ['東北地方', 2, 7],
  ['関東地方', 8, 14],
  ['中部地方', 15, 23],
  ['近畿地方', 24, 30],
  ['中国地方', 31, 35],
  ['四国地方', 36, 39],
  ['九州地方', 40, 47],
]

export function regionOf(prefecture: number): string | undefined {
  return REGIONS.find(([, from, to]) => prefecture >= from && prefecture <= to)?.[0]
}
