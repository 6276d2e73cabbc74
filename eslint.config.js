// Type-aware lint. The rules that matter most here: promises are awaited, switches over unions are
// exhaustive, and money never touches floating point.
import tseslint from 'typescript-eslint';

const noFloatMoney = {
  'no-restricted-globals': ['error', { name: 'parseFloat', message: 'Money is bigint minor units: parse decimals without floats.' }],
  'no-restricted-properties': [
    'error',
    { object: 'Number', property: 'parseFloat', message: 'Money is bigint minor units: parse decimals without floats.' },
    { object: 'Math', property: 'round', message: 'No Math.round on money: use integer (bigint) arithmetic with an explicit rounding rule.' },
  ],
  'no-restricted-syntax': ['error', { selector: "CallExpression[callee.property.name='toFixed']", message: 'No toFixed on money: format minor units with formatMinor().' }],
};

export default tseslint.config(
  { ignores: ['node_modules/', 'bench/results/', '.fenpay/', 'coverage/', 'web/**/dist/'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true, allowNullish: true, allowAny: true }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/**/*.test.ts'],
    rules: noFloatMoney,
  },
  {
    files: ['**/*.test.ts', 'test/**/*.ts', 'bench/**/*.ts', 'scripts/**'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off', '@typescript-eslint/unbound-method': 'off' },
  },
  { files: ['**/*.js', '**/*.mjs', '**/*.cjs'], ...tseslint.configs.disableTypeChecked },
  { files: ['**/*.cjs'], languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } } },
);
