export function App() {
  return <main>Basket</main>;
}
